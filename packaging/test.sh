#!/bin/sh
#
# test.sh: the packages, built and proven (`make package-test` runs it).
#
#   dist        make dist in a scratch copy of the tree (the tarball both
#               packages build from)
#   deb         packaging/build-deb.sh from that tarball
#   lintian     lintian --pedantic -I: no error and no warning (the
#               overrides in debian/routingd.lintian-overrides say why)
#   clean-root  packaging/clean-root.sh: the .deb with its tests in a
#               fresh Debian root holding only the Build-Depends (only
#               with PACKAGE_TEST_CLEAN_ROOT=1: it downloads a root and
#               runs the whole test suite)
#   autopkgtest the tests of debian/tests against the installed .deb
#               (autopkgtest DEB SOURCE -- null), then a purge
#   upgrade     packaging/upgrade.py: the release with the older store
#               schema (OLD_REV) built as 0.1.0-1, the tree in a scratch
#               copy as 0.1.1-1; messages survive the upgrade, a
#               downgrade leaves the store alone, remove and purge
#   leftovers   the file list of the system before the first install and
#               after the last purge are the same
#   rpm         rpmbuild -bb from the tarball (--nodeps: the
#               BuildRequires are Fedora names), its file list, modes
#               and scripts (packaging/rpm/check.sh)
#   rpmlint     rpmlint on the spec and the package: no error, and only
#               the warnings the spec explains (packaging/rpm/rpmlintrc)
#
# Install steps need root and a machine where routingd is not installed:
# they install and purge the package on this system.  A step that cannot
# run here is skipped with its reason.  The last line is the summary:
#   package-test: N passed, M failed, K skipped
#
# Usage: packaging/test.sh [WORKDIR]   (default: a fresh directory under
# ${TMPDIR:-/var/tmp}, removed at the end unless PACKAGE_TEST_KEEP=1).
# DEB_BUILD_OPTIONS defaults to "nocheck parallel=2" for the package
# builds (the test suite runs in the clean-root step and in CI).

set -u

topdir=$(cd "$(dirname "$0")/.." && pwd)
pkg=$topdir/packaging
OLD_REV=${OLD_REV:-a9b2047f921e04ec60f898b3bf7d298f38837a57}
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck parallel=2}"

keep=${PACKAGE_TEST_KEEP:-0}
if [ $# -ge 1 ]; then
	work=$1
	keep=1
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/var/tmp}/routingd-pkgtest.XXXXXX")
fi
work=$(cd "$work" && pwd)
cleanup()
{
	if [ "$keep" = 1 ]; then
		echo "package-test: work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

npass=0
nfail=0
nskip=0
reasons=
pass()
{
	npass=$((npass + 1))
	echo "PASS: $1"
}
fail()
{
	nfail=$((nfail + 1))
	echo "FAIL: $1${2:+ ($2)}"
}
skip()
{
	nskip=$((nskip + 1))
	echo "SKIP: $1 ($2)"
	reasons="$reasons${reasons:+; }$1: $2"
}
# run NAME LOG CMD...: run CMD with its output in WORK/LOG; pass or fail
# (then the end of the log is shown).
run()
{
	name=$1
	log=$work/$2
	shift 2
	if "$@" >"$log" 2>&1; then
		pass "$name"
		return 0
	fi
	tail -n 30 "$log" | sed 's/^/  | /'
	fail "$name" "see $log"
	return 1
}

# The file list of this system, for the leftovers step: everything but
# what other programs change meanwhile (temporary and work directories,
# caches, /proc and friends) and what dpkg itself keeps of a purged
# package (its database and logs, apt's too).
filelist()
{
	find / -xdev \( -path /proc -o -path /sys -o -path /dev \
	    -o -path /tmp -o -path /var/tmp -o -path /work -o -path /root \
	    -o -path /var/lib/dpkg -o -path /var/log/dpkg.log \
	    -o -path /var/log/apt -o -path /var/lib/apt -o -path /var/cache \
	    -o -path /home -o -path /run/user -o -path "$work" \) -prune \
	    -o -print 2>/dev/null | sort
}

# A package of another revision: REV's tree (or this tree's with VERSION)
# made into a tarball and built by that tree's build-deb.sh.
# build_rev DIR REV: DIR/src is REV's tree, DIR/out gets the .deb
build_rev()
{
	rm -rf "$1" && mkdir -p "$1/src" "$1/out" &&
	git -C "$topdir" archive "$2" | tar -xf - -C "$1/src" &&
	"$1/src/packaging/build-deb.sh" "$1/out"
}
# build_bumped DIR VERSION: this tree (work tree, uncommitted changes
# included) with AC_INIT and debian/changelog at VERSION (VERSION-1).
build_bumped()
{
	rm -rf "$1" && mkdir -p "$1/src" "$1/out" &&
	(cd "$topdir" && tar -cf - --exclude=.git --exclude=autom4te.cache \
	    --exclude='*.o' --exclude='*.deb' .) | tar -xf - -C "$1/src" &&
	sed -i "s/^AC_INIT(\[routingd\], \[[^]]*\]/AC_INIT([routingd], [$2]/" \
	    "$1/src/configure.ac" &&
	grep -q "AC_INIT(\[routingd\], \[$2\]" "$1/src/configure.ac" &&
	{ printf 'routingd (%s-1) unstable; urgency=medium\n\n' "$2"
	  printf '  * Test build of the upgrade (packaging/test.sh).\n\n'
	  printf ' -- routingd developers <routingd@example.org>  %s\n\n' \
	      "$(date -R)"
	  cat "$1/src/packaging/debian/changelog"; } \
	    >"$1/changelog" &&
	mv "$1/changelog" "$1/src/packaging/debian/changelog" &&
	"$1/src/packaging/build-deb.sh" "$1/out"
}

# --- dist ---------------------------------------------------------------
version=$(sed -n 's/^AC_INIT(\[routingd\], \[\([^]]*\)\].*/\1/p' \
    "$topdir/configure.ac")
tarball=$work/routingd-$version.tar.gz
mkdir -p "$work/dist"
(cd "$topdir" && tar -cf - --exclude=.git --exclude=autom4te.cache \
    --exclude='*.o' --exclude='*.deb' .) | tar -xf - -C "$work/dist"
if run dist dist.log sh -c "cd '$work/dist' && autoreconf -fi &&
    ./configure -q && make dist && cp routingd-$version.tar.gz '$work/'"; then
	have_dist=1
else
	have_dist=0
fi

# --- deb, lintian ---------------------------------------------------------
deb=
if [ "$have_dist" = 0 ]; then
	fail deb "no tarball"
elif ! command -v dpkg-buildpackage >/dev/null; then
	skip deb "dpkg-buildpackage not installed (dpkg-dev, debhelper)"
elif run deb deb.log "$pkg/build-deb.sh" -t "$tarball" "$work/deb"; then
	deb=$(ls "$work"/deb/routingd_*.deb 2>/dev/null | head -n 1)
fi

if [ -z "$deb" ]; then
	skip lintian "no .deb"
elif ! command -v lintian >/dev/null; then
	skip lintian "lintian not installed"
else
	lintian --pedantic -I --show-overrides "$work"/deb/*.changes \
	    >"$work/lintian.log" 2>&1
	sed 's/^/  | /' "$work/lintian.log"
	if grep -q '^[EW]: ' "$work/lintian.log"; then
		fail lintian "errors or warnings above"
	else
		pass lintian
	fi
fi

# --- clean-root -----------------------------------------------------------
if [ "${PACKAGE_TEST_CLEAN_ROOT:-0}" != 1 ]; then
	skip clean-root "set PACKAGE_TEST_CLEAN_ROOT=1: it downloads a\
 bookworm root and runs the whole test suite there"
elif [ "$have_dist" = 0 ]; then
	fail clean-root "no tarball"
else
	DEB_BUILD_OPTIONS="parallel=2" "$pkg/clean-root.sh" -t "$tarball" \
	    "$work/clean-root" >"$work/clean-root.log" 2>&1
	rc=$?
	case $rc in
	0)	pass clean-root
		grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' \
		    "$work/clean-root.log" | sed 's/^/  | /' ;;
	77)	skip clean-root "$(grep SKIP: "$work/clean-root.log" |
		    sed 's/.*SKIP: //')" ;;
	*)	tail -n 30 "$work/clean-root.log" | sed 's/^/  | /'
		fail clean-root "see $work/clean-root.log" ;;
	esac
fi

# --- the install steps ----------------------------------------------------
why=
if [ "$(id -u)" -ne 0 ]; then
	why="needs root: installs and purges the package on this system"
elif dpkg-query -W -f '${Status}' routingd 2>/dev/null |
    grep -q 'installed\|config-files'; then
	why="routingd is installed on this system; purge it first"
elif [ -z "$deb" ]; then
	why="no .deb"
fi
if [ -z "$why" ]; then
	filelist >"$work/files.before"
fi

if [ -n "$why" ]; then
	skip autopkgtest "$why"
elif ! command -v autopkgtest >/dev/null; then
	skip autopkgtest "autopkgtest not installed"
else
	"$pkg/build-deb.sh" -p -t "$tarball" "$work/source" \
	    >"$work/source.log" 2>&1
	run autopkgtest autopkgtest.log autopkgtest "$deb" \
	    "$work/source/routingd-$version" -- null
	grep -E '^(installed|serve|logrotate) +(PASS|FAIL|SKIP)' \
	    "$work/autopkgtest.log" | awk '!seen[$0]++ { print "  | " $0 }'
	dpkg --purge routingd >"$work/purge.log" 2>&1 ||
	    fail "purge after autopkgtest" "see $work/purge.log"
fi

if [ -n "$why" ]; then
	skip upgrade "$why"
elif ! git -C "$topdir" rev-parse -q --verify "$OLD_REV^{commit}" \
    >/dev/null 2>&1; then
	skip upgrade "no git history with $OLD_REV here (a tarball?)"
else
	old=
	new=
	if run "upgrade: build $OLD_REV as 0.1.0-1" build-old.log \
	    build_rev "$work/old" "$OLD_REV"; then
		old=$(ls "$work"/old/out/routingd_*.deb | head -n 1)
	fi
	if run "upgrade: build the tree as 0.1.1-1" build-new.log \
	    build_bumped "$work/new" 0.1.1; then
		new=$(ls "$work"/new/out/routingd_*.deb | head -n 1)
	fi
	if [ -n "$old" ] && [ -n "$new" ]; then
		run upgrade upgrade.log /usr/bin/python3 "$pkg/upgrade.py" \
		    "$old" "$new"
		grep -c '^ok:' "$work/upgrade.log" |
		    sed 's/^/  | checks passed: /'
	else
		fail upgrade "a package did not build"
	fi
	# Whatever happened, leave nothing installed.
	dpkg --purge routingd >/dev/null 2>&1
fi

if [ -n "$why" ]; then
	skip leftovers "$why"
else
	filelist >"$work/files.after"
	if diff "$work/files.before" "$work/files.after" >"$work/files.diff"
	then
		pass leftovers
	else
		sed 's/^/  | /' "$work/files.diff" | head -n 40
		fail leftovers "files differ before install and after purge"
	fi
fi

# --- rpm ------------------------------------------------------------------
rpm=
if [ "$have_dist" = 0 ]; then
	fail rpm "no tarball"
elif ! command -v rpmbuild >/dev/null; then
	skip rpm "rpmbuild not installed (Debian: rpm)"
else
	rpmtop=$work/rpmbuild
	mkdir -p "$rpmtop/SOURCES"
	cp "$tarball" "$rpmtop/SOURCES/"
	if run "rpm: rpmbuild -bb" rpmbuild.log rpmbuild -bb --nodeps \
	    --define "_topdir $rpmtop" "$pkg/rpm/routingd.spec"; then
		rpm=$(ls "$rpmtop"/RPMS/*/routingd-"$version"-*.rpm |
		    grep -v debug | head -n 1)
		run "rpm: files, modes and scripts" rpmcheck.log \
		    "$pkg/rpm/check.sh" "$rpm"
		sed -n 's/^SKIP: /  | not checked: /p' "$work/rpmcheck.log"
	fi
fi

if [ -z "$rpm" ]; then
	skip rpmlint "no .rpm"
elif ! command -v rpmlint >/dev/null; then
	skip rpmlint "rpmlint not installed"
else
	rpmlint -r "$pkg/rpm/rpmlintrc" "$pkg/rpm/routingd.spec" "$rpm" \
	    >"$work/rpmlint.log" 2>&1
	sed 's/^/  | /' "$work/rpmlint.log"
	if grep -qE '^[^ ]+: [EW]: ' "$work/rpmlint.log"; then
		fail rpmlint "errors or warnings above"
	else
		pass rpmlint
	fi
fi

[ -z "$reasons" ] || echo "package-test: skipped: $reasons"
echo "package-test: $npass passed, $nfail failed, $nskip skipped"
[ "$nfail" -eq 0 ] && exit 0
exit 1
