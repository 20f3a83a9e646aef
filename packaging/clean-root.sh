#!/bin/sh
#
# clean-root.sh: build the .deb, with its tests, in a fresh Debian root that
# holds nothing but a minimal build system (mmdebstrap --variant=buildd:
# the Essential packages, apt and build-essential) plus the Build-Depends
# of packaging/debian/control, installed by `apt-get build-dep`.  A test
# that needs a tool or a Python module missing from Build-Depends fails
# (or, for the optional tools, skips), so a pass proves the list complete.
#
# The build runs as user builder, made for it, without privileges (as
# Debian's build daemons build), in a network namespace of its own with
# only a loopback interface: the integration tests bind fixed loopback
# ports (8082, 8083) that must not meet anything else running on this
# machine, and no test may reach the network.  The root gets what a build
# daemon's chroot has besides its packages: an /etc/hosts naming localhost
# (the TLS tests of test_pushhttp connect to "localhost").  builder is in
# no other group: 08-sighup-reload gives the control socket one of the
# user's own groups when it does not run as root.
#
# Needs root, mmdebstrap, unshare and ip (iproute2), and a Debian mirror
# (MIRROR, default http://deb.debian.org/debian).  The root lives under
# ${TMPDIR:-/var/tmp} and is removed at the end.
#
# Usage: packaging/clean-root.sh [-t TARBALL] OUTDIR
#   OUTDIR gets the .deb files and build.log (dpkg-buildpackage's output,
#   the test log included).  DEB_BUILD_OPTIONS passes through (parallel=N;
#   nocheck would defeat the purpose).  Exit status 0 if the build and its
#   tests passed, 1 if not, 77 if this machine cannot do it (the reason is
#   printed).

set -eu

PROG=clean-root.sh
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

die()
{
	echo "$PROG: $*" >&2
	exit 1
}

skip()
{
	echo "$PROG: SKIP: $*" >&2
	exit 77
}

tarball=
while getopts t: opt; do
	case $opt in
	t)	tarball=$OPTARG ;;
	*)	echo "usage: $PROG [-t tarball] outdir" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $PROG [-t tarball] outdir" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap, chroot, unshare)"
for t in mmdebstrap unshare ip; do
	command -v $t >/dev/null || skip "$t not installed"
done
unshare --net true 2>/dev/null ||
    skip "unshare --net is not allowed here (no network namespaces)"

topdir=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
outdir=$(cd "$1" && pwd)

work=$(mktemp -d "${TMPDIR:-/var/tmp}/routingd-cleanroot.XXXXXX")
cleanup()
{
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The source tree with debian/, as build-deb.sh would build it.
srcdir=$("$topdir/packaging/build-deb.sh" -p ${tarball:+-t "$tarball"} \
    "$work/src") || die "could not prepare the source tree"
name=$(basename "$srcdir")

# The root: Essential, apt, build-essential.  Then the Build-Depends,
# exactly those (no Recommends), resolved by apt from debian/control.
root=$work/root
echo "$PROG: mmdebstrap --variant=buildd $SUITE into $root" >&2
mmdebstrap --quiet --variant=buildd "$SUITE" "$root" "$MIRROR" \
    >"$outdir/mmdebstrap.log" 2>&1 ||
    skip "mmdebstrap $SUITE $MIRROR failed (see $outdir/mmdebstrap.log)"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$root/etc/hosts"
echo 'builder:x:2000:2000:build user:/build:/bin/sh' >>"$root/etc/passwd"
echo 'builder:x:2000:' >>"$root/etc/group"
mkdir -p "$root/build"
cp -R "$srcdir" "$root/build/$name"
chown -R 2000:2000 "$root/build"

# chroot with /proc, /dev and /dev/shm (the daemon's shared memory) in
# a mount namespace of its own, so nothing stays mounted afterwards.
# inroot net ...: also in a network namespace with only loopback up.
inroot()
{
	case $1 in
	net)	nsflags="--mount --net" ;;
	*)	nsflags=--mount ;;
	esac
	shift
	unshare $nsflags --fork sh -c '
	    root=$1; shift
	    if [ "$nsflags" != --mount ]; then
		ip link set lo up || exit 1
	    fi
	    mount -t proc proc "$root/proc" &&
	    mount --rbind /dev "$root/dev" &&
	    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" &&
	    exec chroot "$@"' inroot "$root" "$@"
}
export nsflags

# mmdebstrap leaves no package lists in the root: fetch them again.  A
# Build-Depends apt cannot install is an error of debian/control.
echo "$PROG: apt-get build-dep /build/$name" >&2
inroot host "$root" apt-get update >"$outdir/build-dep.log" 2>&1 ||
    skip "apt-get update in the root failed (see $outdir/build-dep.log)"
inroot host "$root" env DEBIAN_FRONTEND=noninteractive apt-get build-dep \
    -y --no-install-recommends "/build/$name" >>"$outdir/build-dep.log" \
    2>&1 || die "apt-get build-dep failed (see $outdir/build-dep.log)"
inroot host "$root" dpkg-query -W -f '${Package} ${Version}\n' \
    >"$outdir/installed.txt"

echo "$PROG: dpkg-buildpackage -us -uc -b as builder, loopback only" >&2
rc=0
inroot net --userspec=builder:builder --groups=builder "$root" \
    env HOME=/build USER=builder LOGNAME=builder \
    DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" sh -c \
    "cd /build/$name && dpkg-buildpackage -us -uc -b" \
    >"$outdir/build.log" 2>&1 || rc=$?
for f in "$root/build"/*.deb; do
	[ -f "$f" ] && cp "$f" "$outdir/"
done
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$outdir/build.log" >&2
	die "the build in the clean root failed (see $outdir/build.log)"
fi
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$outdir/build.log" \
    >&2 || true
echo "$PROG: built and tested in a clean $SUITE root" >&2
