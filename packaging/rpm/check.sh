#!/bin/sh
#
# check.sh: the routingd .rpm has the files, owners, modes and scripts the
# spec promises.  Usage: packaging/rpm/check.sh routingd-V-R.ARCH.rpm
#
# The file list is compared whole (rpm -qp --qf, one line per file: mode,
# owner, group, path); the build-id links, the man page compression and
# the version in the doc directory names differ from one build host to
# another and are left out or normalised.  The scripts: %pre creates the
# user and group on every host.  %post, %preun and %postun come from the
# systemd-rpm-macros (%systemd_post, %systemd_preun,
# %systemd_postun_with_restart, %tmpfiles_create), which only Fedora,
# RHEL and their kind define; elsewhere (Debian's rpm) those scripts are
# empty and the checks of them are skipped, saying so ("SKIP:").
# Exit status 0 if every check passed, 1 if not.

set -u
rpm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

version=$(rpm -qp --qf '%{VERSION}' "$rpm")
qf='[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]'
rpm -qp --qf "$qf" "$rpm" | grep -v ' /usr/lib/\.build-id' |
    sed -e "s|/routingd-$version\$|/routingd|" \
	-e "s|/routingd-$version/|/routingd/|" \
	-e 's/\.\(gz\|bz2\|xz\|zst\)$//' | sort >$tmp/got
sort >$tmp/want <<'LIST'
-rw-r--r-- root root /etc/logrotate.d/routingd
drwxr-xr-x root root /etc/routingd
-rw-r--r-- root root /etc/routingd/routingd.conf
drwxr-x--- routingd routingd /run/routingd
-rw-r--r-- root root /usr/lib/systemd/system/routingd.service
-rw-r--r-- root root /usr/lib/sysusers.d/routingd.conf
-rw-r--r-- root root /usr/lib/tmpfiles.d/routingd.conf
-rwxr-xr-x root root /usr/bin/routingd-bench
-rwxr-xr-x root root /usr/sbin/routingctl
-rwxr-xr-x root root /usr/sbin/routingd
drwxr-xr-x root root /usr/share/doc/routingd
-rw-r--r-- root root /usr/share/doc/routingd/README.md
drwxr-xr-x root root /usr/share/licenses/routingd
-rw-r--r-- root root /usr/share/licenses/routingd/LICENSE
-rw-r--r-- root root /usr/share/man/man1/routingd-bench.1
-rw-r--r-- root root /usr/share/man/man5/routingd.conf.5
-rw-r--r-- root root /usr/share/man/man8/routingctl.8
-rw-r--r-- root root /usr/share/man/man8/routingd.8
drwxr-xr-x root root /usr/share/routingd
-rw-r--r-- root root /usr/share/routingd/grafana-dashboard.json
-rw-r--r-- root root /usr/share/routingd/routingd-alerts.yml
drwx------ routingd routingd /var/lib/routingd
LIST
if diff $tmp/want $tmp/got; then
	ok "file list, owners and modes"
else
	bad "file list, owners and modes (- wanted, + in the package)"
fi

# Flags: the config is %config(noreplace), /run/routingd a %ghost.
flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm")
echo "$flags" | grep -qx 'cn /etc/routingd/routingd.conf' &&
    ok "routingd.conf is %config(noreplace)" ||
    bad "routingd.conf is %config(noreplace)"
echo "$flags" | grep -qx 'cn /etc/logrotate.d/routingd' &&
    ok "the logrotate entry is %config(noreplace)" ||
    bad "the logrotate entry is %config(noreplace)"
echo "$flags" | grep -qx 'g /run/routingd' &&
    ok "/run/routingd is a %ghost" || bad "/run/routingd is a %ghost"

scripts=$(rpm -qp --scripts "$rpm")
# section NAME: the body of one scriptlet of rpm --scripts.
section()
{
	echo "$scripts" | awk -v want="$1" '
	    /^[a-z]+ (scriptlet|program)/ { on = ($1 == want); next }
	    on { print }'
}
pre=$(section preinstall)
echo "$pre" | grep -q 'groupadd -r routingd' &&
    echo "$pre" | grep -q 'useradd -r -g routingd -d /var/lib/routingd' &&
    ok "%pre creates the routingd group and system user" ||
    bad "%pre creates the routingd group and system user"

if [ -z "$(rpm --eval '%{?systemd_post:1}')" ]; then
	echo "SKIP: %post, %preun, %postun: this rpm defines no" \
	    "systemd-rpm-macros (only a Fedora/RHEL build fills them)"
else
	section postinstall | grep -q 'systemd' &&
	    section postinstall | grep -q 'tmpfiles' &&
	    ok "%post: tmpfiles and the unit preset" ||
	    bad "%post: tmpfiles and the unit preset"
	section preuninstall | grep -q 'systemd\|systemctl' &&
	    ok "%preun: the unit stopped and disabled on erase" ||
	    bad "%preun: the unit stopped and disabled on erase"
	section postuninstall | grep -q 'systemd\|systemctl' &&
	    ok "%postun: the unit restarted on upgrade" ||
	    bad "%postun: the unit restarted on upgrade"
fi
# rpm 4.19 and later read the sysusers.d file themselves and make the
# package provide the user and group it creates.
if rpm -qp --provides "$rpm" | grep -q '^user(routingd)'; then
	rpm -qp --provides "$rpm" | grep -q '^group(routingd)' &&
	    ok "rpm provides user(routingd) and group(routingd) (sysusers.d)" ||
	    bad "rpm provides group(routingd) (sysusers.d)"
else
	echo "SKIP: sysusers: this rpm ($(rpm --version)) does not read" \
	    "sysusers.d files (4.19 and later do); %pre creates the user"
fi
[ "$fails" -eq 0 ]
