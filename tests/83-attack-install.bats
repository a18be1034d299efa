#!/usr/bin/env bats
# Attacks on `install` (issue 7, holes 2, 6 and 10): hostile tarballs, extracted with each tar a
# host may have (GNU tar, toybox as on Android, busybox), must not touch anything outside the
# new rootfs; a rootfs whose files are FIFOs or /dev/zero symlinks must not hang the install;
# installing one container must not delete another one's directory.
#
# Every host path an attack aims at is a throwaway made here (/tmp/ds-atk.XXXXXX), never a real
# system file, so that a failing guard cannot damage the machine.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ATK=$(mktemp -d /tmp/ds-atk.XXXXXX)
    export ATK
    suite_track_dir "$ATK"
    # One PATH directory per tar flavour, each with a `tar` in it.
    local gnu_tar busybox
    gnu_tar=$(command -v tar)
    busybox=$(command -v busybox)
    mkdir -p "$SUITE_TMP/tars/gnu" "$SUITE_TMP/tars/toybox" "$SUITE_TMP/tars/busybox"
    ln -s "$gnu_tar" "$SUITE_TMP/tars/gnu/tar"
    ln -s /usr/bin/toybox "$SUITE_TMP/tars/toybox/tar"
    ln -s "$busybox" "$SUITE_TMP/tars/busybox/tar"

    # The tarballs, made with python's tarfile (it writes what it is told, as an attacker's
    # tool would). $ATK/target is the host file the hard links aim at; $ATK/dir a host dir.
    python3 - "$SUITE_TMP" "$ATK" <<'EOF'
import io, sys, tarfile
out, atk = sys.argv[1], sys.argv[2]

def member(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, uid=0, dev=(0, 0)):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.uid, info.gid = kind, link, mode, uid, uid
    info.devmajor, info.devminor = dev
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)

def write(name, members, fmt=tarfile.GNU_FORMAT):
    with tarfile.open(f"{out}/{name}", "w", format=fmt) as tar:
        base = [member("./", tarfile.DIRTYPE, mode=0o755), member("etc", tarfile.DIRTYPE, mode=0o755),
                member("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n")]
        for info, data in base + members:
            tar.addfile(info, data)

ups = "../" * 12
write("hardlink-abs.tar", [member("owned", tarfile.LNKTYPE, link=f"{atk}/target", mode=0o6777, uid=4321)])
write("hardlink-dotdot.tar", [member("owned", tarfile.LNKTYPE, link=f"{ups}{atk}/target", mode=0o6777, uid=4321)])
write("symlink-then-file.tar", [member("evil", tarfile.SYMTYPE, link=f"{atk}/dir"),
                                member("evil/owned", data=b"pwned\n", mode=0o6777, uid=4321)])
write("symlink-then-hardlink.tar", [member("evil", tarfile.SYMTYPE, link=atk),
                                    member("owned", tarfile.LNKTYPE, link="evil/target", mode=0o6777, uid=4321)])
write("hardlink-to-symlink.tar", [member("s", tarfile.SYMTYPE, link=f"{atk}/target"),
                                  member("owned", tarfile.LNKTYPE, link="s", mode=0o6777, uid=4321)])
write("absolute-name.tar", [member(f"{atk}/dir/absolute", data=b"pwned\n")])
write("dotdot-name.tar", [member(f"{ups}{atk}/dir/dotdot", data=b"pwned\n")])
write("pax-absolute-name.tar", [member(f"{atk}/dir/" + "p" * 120, data=b"pwned\n")], tarfile.PAX_FORMAT)
# Hole 6: guest files that would hang or exhaust a reader.
write("fifo-files.tar", [member("dev", tarfile.DIRTYPE, mode=0o755),
                         member("dev/zero", tarfile.CHRTYPE, mode=0o666, dev=(1, 5)),
                         member("etc/hostname", tarfile.FIFOTYPE),
                         member("etc/hosts", tarfile.FIFOTYPE),
                         member("etc/os-release", tarfile.SYMTYPE, link="/dev/zero")])
# A good rootfs with what rootfs tarballs have: hard links, absolute symlinks, a device node.
write("good.tar", [member("bin", tarfile.DIRTYPE, mode=0o755),
                   member("bin/busybox", data=b"#!/bin/sh\n", mode=0o755),
                   member("bin/sh", tarfile.LNKTYPE, link="bin/busybox"),
                   member("sbin", tarfile.SYMTYPE, link="/bin"),
                   member("dev", tarfile.DIRTYPE, mode=0o755),
                   member("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
                   member("etc/os-release", data=b'PRETTY_NAME="Attack Test OS"\n')])
EOF
    mkdir -p "$ATK/dir"
    printf 'host-secret\n' >"$ATK/target"
    chmod 0644 "$ATK/target"
    host_state >"$SUITE_TMP/atk.before"
}

teardown_file() {
    load helpers
    [ -n "${ATK:-}" ] && rm -rf "$ATK"
    suite_teardown
}

setup() {
    load helpers
    CONTAINERS=$DROIDSPACES_HOME/Containers
}

# Everything about the throwaway host paths an attack aims at: names, modes, owners, link
# counts, sizes, contents.
host_state() {
    (cd "$ATK" && find . -printf '%p %y %m %U %G %n %s\n' | sort && cat target)
}

# (A bare `! cmd` never fails a bats test: these return the negation as their status.)
no_temp_dirs() { ! compgen -G "$CONTAINERS/.install[@-]*" >/dev/null; }

# install with the tar of flavour $1 first on PATH: install_with FLAVOUR NAME TARBALL
install_with() {
    PATH="$SUITE_TMP/tars/$1:$PATH" run --separate-stderr ds --name="$2" install --from="$3"
    echo "tar=$1 status=$status"
    echo "stdout: $output"
    echo "stderr: $stderr"
}

# The attack was refused with one line naming the member and the rule, and left nothing.
# refused NAME MEMBER RULE
refused() {
    [ "$status" -eq 1 ] || return 1
    [ "${#stderr_lines[@]}" -eq 1 ] || return 1
    [[ $stderr == *"refusing "*"'$2'"*"$3"* ]] || return 1
    [ ! -e "$CONTAINERS/$1" ] || return 1
    no_temp_dirs || return 1
    diff "$SUITE_TMP/atk.before" <(host_state)
}

@test "a hard link to a host file by absolute path is refused with every tar" {
    for t in gnu toybox busybox; do
        install_with "$t" "atk-hl-$t-$$" "$SUITE_TMP/hardlink-abs.tar"
        refused "atk-hl-$t-$$" owned "the target has an absolute name"
    done
}

@test "a hard link to a host file by a ../ path is refused with every tar" {
    for t in gnu toybox busybox; do
        install_with "$t" "atk-hd-$t-$$" "$SUITE_TMP/hardlink-dotdot.tar"
        refused "atk-hd-$t-$$" owned "the target has a '..' component"
    done
}

@test "a file through a symlink member pointing out of the rootfs is refused with every tar" {
    for t in gnu toybox busybox; do
        install_with "$t" "atk-sl-$t-$$" "$SUITE_TMP/symlink-then-file.tar"
        refused "atk-sl-$t-$$" evil/owned "is under the symlink member 'evil'"
        [ ! -e "$ATK/dir/owned" ]
    done
}

@test "a hard link through a symlink member is refused with every tar" {
    for t in gnu toybox busybox; do
        install_with "$t" "atk-sh-$t-$$" "$SUITE_TMP/symlink-then-hardlink.tar"
        refused "atk-sh-$t-$$" owned "not an earlier file of the archive"
        install_with "$t" "atk-hs-$t-$$" "$SUITE_TMP/hardlink-to-symlink.tar"
        refused "atk-hs-$t-$$" owned "the target is a symlink member"
    done
}

@test "absolute and ../ member names are refused with every tar" {
    for t in gnu toybox busybox; do
        install_with "$t" "atk-ab-$t-$$" "$SUITE_TMP/absolute-name.tar"
        refused "atk-ab-$t-$$" "$ATK/dir/absolute" "has an absolute name"
        install_with "$t" "atk-dd-$t-$$" "$SUITE_TMP/dotdot-name.tar"
        refused "atk-dd-$t-$$" "$(printf '../%.0s' {1..12})$ATK/dir/dotdot" \
            "has a '..' component"
        install_with "$t" "atk-px-$t-$$" "$SUITE_TMP/pax-absolute-name.tar"
        refused "atk-px-$t-$$" "$ATK/dir/$(printf 'p%.0s' {1..120})" "has an absolute name"
    done
}

@test "a compressed hostile tarball is refused the same way" {
    gzip -c "$SUITE_TMP/hardlink-abs.tar" >"$SUITE_TMP/hardlink-abs.tar.gz"
    install_with toybox "atk-gz-$$" "$SUITE_TMP/hardlink-abs.tar.gz"
    refused "atk-gz-$$" owned "the target has an absolute name"
}

@test "a good rootfs with hard links, absolute symlinks and devices installs with every tar" {
    for t in gnu toybox busybox; do
        install_with "$t" "atk-ok-$t-$$" "$SUITE_TMP/good.tar"
        [ "$status" -eq 0 ]
        local root=$CONTAINERS/atk-ok-$t-$$/rootfs
        [ "$(stat -c %h "$root/bin/sh")" -eq 2 ]
        [ "$(stat -c %i "$root/bin/sh")" = "$(stat -c %i "$root/bin/busybox")" ]
        [ "$(readlink "$root/sbin")" = /bin ]
        [ -c "$root/dev/null" ]
        [[ $output == *"(Attack Test OS)"* ]]
        [ ! -e "$CONTAINERS/atk-ok-$t-$$/.tar-root" ]
        no_temp_dirs
    done
    diff "$SUITE_TMP/atk.before" <(host_state)
}

@test "a tar that tries to reach the host from inside its sandbox finds nothing of it" {
    # A buggy tar, as far as the runtime can tell: it answers --version, then on -x tries to
    # write, link and chmod the host's $ATK paths, and notes what happened inside the rootfs.
    local dir=$SUITE_TMP/tars/buggy
    mkdir -p "$dir"
    cat >"$dir/tar" <<EOF
#!/bin/sh
case "\$1" in --version|--help) echo "buggy tar 1.0"; exit 0;; esac
dest=
while [ \$# -gt 0 ]; do [ "\$1" = -C ] && dest=\$2; shift; done
cd "\$dest" || exit 9
cat >stream
mkdir -p etc
{
  echo pwned >"$ATK/target" && echo "REACHED: wrote target"
  ln "$ATK/target" owned && echo "REACHED: linked target"
  chmod 6777 "$ATK/target" && echo "REACHED: chmod target"
  touch "$ATK/dir/new" && echo "REACHED: created new"
  ls -d /proc/1 "$ATK" && echo "REACHED: sees the host"
} >etc/attempts 2>&1
exit 0
EOF
    chmod 755 "$dir/tar"
    install_with buggy "atk-bug-$$" "$SUITE_TMP/good.tar"
    [ "$status" -eq 0 ]
    cat "$CONTAINERS/atk-bug-$$/rootfs/etc/attempts"
    run grep -F 'REACHED:' "$CONTAINERS/atk-bug-$$/rootfs/etc/attempts"
    [ "$status" -eq 1 ]
    [ ! -e "$CONTAINERS/atk-bug-$$/rootfs/owned" ]
    diff "$SUITE_TMP/atk.before" <(host_state)
}

@test "a rootfs whose hostname and hosts are FIFOs and os-release -> /dev/zero installs promptly" {
    DS_TIMEOUT=30 install_with gnu "atk-fifo-$$" "$SUITE_TMP/fifo-files.tar"
    [ "$status" -eq 0 ]
    local root=$CONTAINERS/atk-fifo-$$/rootfs
    [ -p "$root/etc/hostname" ]  # left as the tarball made it: not read, not replaced
    [ -p "$root/etc/hosts" ]
    [[ $output == *"Installed 'atk-fifo-$$': "* ]]  # no os name: os-release is not a file
}

@test "installing a container never removes another one's directory or temp dir" {
    local keep=keep$$
    # A container named like the old temp dirs of $keep (".install-keep.XXXXXX"), the temp
    # dir of an install of "$keep.x" in progress, and a leftover of an earlier install of $keep.
    mkdir -p "$CONTAINERS/.install-$keep.Ab12Cd/rootfs" "$CONTAINERS/.install@$keep.x.Ab12Cd" \
        "$CONTAINERS/.install@$keep.Zz99Yy/rootfs"
    echo "name=.install-$keep.Ab12Cd" >"$CONTAINERS/.install-$keep.Ab12Cd/container.config"
    touch "$CONTAINERS/.install@$keep.x.Ab12Cd/marker"
    install_with gnu "$keep" "$SUITE_TMP/good.tar"
    local other_container=0 other_temp=0 leftover=0
    [ -f "$CONTAINERS/.install-$keep.Ab12Cd/container.config" ] || other_container=1
    [ -f "$CONTAINERS/.install@$keep.x.Ab12Cd/marker" ] || other_temp=1
    [ -e "$CONTAINERS/.install@$keep.Zz99Yy" ] && leftover=1
    rm -rf "$CONTAINERS/.install-$keep.Ab12Cd" "$CONTAINERS/.install@$keep.x.Ab12Cd" \
        "$CONTAINERS/.install@$keep.Zz99Yy"
    [ "$status" -eq 0 ]
    [ "$other_container" -eq 0 ]
    [ "$other_temp" -eq 0 ]
    [ "$leftover" -eq 0 ]
    [[ $stderr == *"removed the leftovers of an earlier install of '$keep'"* ]]
}

@test "the host is as it was before the suite" {
    diff "$SUITE_TMP/atk.before" <(host_state)
    no_temp_dirs
    assert_host_clean
}
