#!/bin/sh
#
# build-deb.sh: build the routingd .deb from a `make dist` tarball.
#
# dpkg-buildpackage wants debian/ at the top of the source tree, but ours
# lives in packaging/debian so the upstream tree stays distribution-neutral.
# This script:
#   1. takes the tarball given with -t, or makes one with `make dist` in a
#      scratch copy of this tree (the tree itself is never touched);
#   2. checks that its version matches packaging/debian/changelog;
#   3. unpacks it next to routingd_VERSION.orig.tar.gz in a scratch
#      directory, copies packaging/debian in as debian/;
#   4. runs `dpkg-buildpackage -us -uc -b` there;
#   5. copies the .deb, .buildinfo and .changes files into OUTDIR.
# With -p it stops after step 3: OUTDIR gets the .orig tarball and the
# unpacked source tree with debian/ (its path is printed), for a build
# elsewhere (packaging/clean-root.sh builds it in a fresh Debian root).
#
# Usage: packaging/build-deb.sh [-kp] [-t TARBALL] OUTDIR
#   -k          keep the scratch directory (its path is printed)
#   -p          prepare the source tree in OUTDIR, do not build
#   -t TARBALL  build from this routingd-VERSION.tar.gz
#
# DEB_BUILD_OPTIONS passes through, e.g. DEB_BUILD_OPTIONS=nocheck to skip
# `make check`.  Needs dpkg-dev, debhelper and the Build-Depends of
# packaging/debian/control; dpkg-buildpackage names any that are missing.

set -eu

PROG=build-deb.sh

usage()
{
	echo "usage: $PROG [-kp] [-t tarball] outdir" >&2
	exit 2
}

die()
{
	echo "$PROG: $*" >&2
	exit 1
}

keep=0
prepare=0
tarball=
while getopts kpt: opt; do
	case $opt in
	k)	keep=1 ;;
	p)	prepare=1 ;;
	t)	tarball=$OPTARG ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage

# Absolute paths: we cd around below.
topdir=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
if [ -n "$tarball" ]; then
	[ -f "$tarball" ] || die "$tarball: no such file"
	tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
fi

debdir=$topdir/packaging/debian
[ -f "$debdir/control" ] || die "$debdir/control not found"
command -v dpkg-buildpackage >/dev/null ||
    die "dpkg-buildpackage not found: apt-get install dpkg-dev debhelper"

# 0.1.0-1 -> 0.1.0
debversion=$(dpkg-parsechangelog -l "$debdir/changelog" -S Version)
upversion=${debversion%-*}
source=$(dpkg-parsechangelog -l "$debdir/changelog" -S Source)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/routingd-deb.XXXXXX")
cleanup()
{
	if [ "$keep" -eq 1 ]; then
		echo "$PROG: scratch directory kept: $scratch" >&2
	else
		rm -rf "$scratch"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# 1. The tarball.
if [ -z "$tarball" ]; then
	echo "$PROG: making the dist tarball in a scratch copy of $topdir" >&2
	mkdir "$scratch/dist"
	# A copy without .git and without objects of an in-tree build.
	(cd "$topdir" && tar -cf - --exclude=.git --exclude='*.o' \
	    --exclude='*.deb' --exclude=autom4te.cache .) |
	    (cd "$scratch/dist" && tar -xf -)
	(cd "$scratch/dist" && autoreconf -fi && ./configure && make dist) \
	    >"$scratch/dist.log" 2>&1 ||
	    { tail -n 40 "$scratch/dist.log" >&2; die "make dist failed"; }
	tarball=$scratch/dist/$source-$upversion.tar.gz
	[ -f "$tarball" ] ||
	    die "make dist did not produce $source-$upversion.tar.gz" \
	    "(does AC_INIT in configure.ac say $upversion?)"
fi

# 2. The version.
case $(basename "$tarball") in
"$source-$upversion.tar.gz")
	;;
*)
	die "$(basename "$tarball") does not match debian/changelog" \
	    "version $debversion (want $source-$upversion.tar.gz)"
	;;
esac

# 3. The Debian source tree.
cp "$tarball" "$scratch/${source}_$upversion.orig.tar.gz"
(cd "$scratch" && tar -xzf "${source}_$upversion.orig.tar.gz")
srcdir=$scratch/$source-$upversion
[ -d "$srcdir" ] || die "tarball did not unpack to $source-$upversion/"
rm -rf "$srcdir/debian"
cp -R "$debdir" "$srcdir/debian"
chmod 0755 "$srcdir/debian/rules"

if [ "$prepare" -eq 1 ]; then
	rm -rf "$outdir/$source-$upversion"
	mv "$srcdir" "$outdir/"
	mv "$scratch/${source}_$upversion.orig.tar.gz" "$outdir/"
	echo "$outdir/$source-$upversion"
	exit 0
fi

# 4. Build.
echo "$PROG: dpkg-buildpackage -us -uc -b in $srcdir" >&2
(cd "$srcdir" && dpkg-buildpackage -us -uc -b) ||
    die "dpkg-buildpackage failed"

# 5. Results.
found=0
for f in "$scratch"/*.deb "$scratch"/*.buildinfo "$scratch"/*.changes; do
	[ -f "$f" ] || continue
	cp "$f" "$outdir/"
	echo "$outdir/$(basename "$f")"
	found=1
done
[ "$found" -eq 1 ] || die "no packages were built"
