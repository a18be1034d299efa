#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into corpus/<target>/seed-*.

The seeds are the examples of the unit and bats tests, in each target's input format (see the
target's header comment). Inputs found by fuzzing and minimized with -merge=1 sit next to them
under their SHA-1 names; this script leaves those alone. Run it after changing a seed below.
"""
import io
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))

UPSTREAM_CONFIG = """# Droidspaces Container Configuration
# Generated automatically - Changes may be overwritten

name=debian
hostname=debian
rootfs_path=/data/local/Droidspaces/Containers/debian/rootfs.img
disable_ipv6=0
enable_android_storage=0
enable_termux_x11=0
enable_hw_access=1
enable_gpu_mode=0
selinux_permissive=0
allow_userns=0
volatile_mode=0
force_cgroupv1=0
block_nested_ns=1
memory_limit=536870912
cpu_quota=150000
cpu_period=100000
pids_limit=4096
privileged=nomask,nocaps
foreground=0
net_mode=nat
upstream_interfaces=wlan0,rmnet*
port_forwards=22:22/tcp,8080:80/tcp,1000-2000:1000-2000/udp
static_nat_ip=172.28.5.9
env_file=/data/local/Droidspaces/Containers/debian/.env
uuid=0123456789abcdef0123456789abcdef
dns_servers=1.1.1.1,2001:4860:4860::8888
bind_mounts=/sdcard:/mnt/sdcard,/data/local/tmp:/opt/tmp:ro

# Android App Configuration
run_at_boot=1
run_at_boot_priority=3
use_sparse_image=1
sparse_image_size_gb=8
pidfile=/x
"""

CONFIG = {
    "upstream-android": UPSTREAM_CONFIG,
    "desktop-minimal": "name=box\nrootfs_path=/var/lib/Droidspaces/Containers/box/rootfs\n",
    "gateway": "name=gw\nnet_mode=gateway\ngateway_container=router\ngateway_net=lan\n"
               "gateway_bridge=ds-br0\ngateway_lan_ifname=eth1\n",
    "delegated-gateway": "net_mode=delegated-gateway\ngateway_container=my box\n",
    "nat-gateway-keys-unused": "net_mode=nat\ngateway_container=x\nport_forwards=80\n",
    "duplicate-keys": "name=a\nname=b\nhostname=h\n# c\nhostname=i\n",
    "crlf": "name=box\r\nhostname=box\r\n\r\n",
    "spaces-around": "  name = my box  \n\thostname\t=\tmy box\n",
    "bools": "enable_hw_access=yes\nvolatile_mode=TRUE\nforeground=off\nallow_userns=0\n",
    "privileged-full": "privileged=shared,unfiltered-dev,nomask,noseccomp,nocaps\n",
    "limits": "memory_limit=4194304\ncpu_quota=1000\ncpu_period=1000000\npids_limit=4194304\n",
    "binds-many": "bind_mounts=" + ",".join(f"/s{i}:/d{i}" for i in range(16)) + "\n",
    "binds-dup": "bind_mounts=/a:/b,/a:/b/,/a:/b:ro,/c:/a/b/c:rw\n",
    "ports": "net_mode=nat\nport_forwards=22, 8080:80/udp 1000-1010:2000-2010/TCP\n",
    "upstream-wildcards": "net_mode=nat\nupstream_interfaces=wlan?, rmnet_data*\n",
    "dns-v6": "dns_servers=::1 1.1.1.1,fe80::1\n",
    "empty-values": "hostname=\nprivileged=\ndns_servers=\nbind_mounts=\nenv_file=\n",
    "unknown-only": "# just a comment\nfoo=bar\n\nbaz = 1\n",
    "no-trailing-newline": "name=x",
    "init": "custom_init=/usr/lib/systemd/systemd\n",
    "text-flags": "tx11_extra_flags=-legacy-drawing -xstartup xfce4\nvirgl_extra_flags=--use-gles\n",
    "bad-line": "name=x\nthis is not a key value line\n",
    "bad-value": "memory_limit=1\n",
    "control-char": "hostname=a\x01b\n",
}

ENV = {
    "basic": "FOO=bar\nexport PATH_EXTRA=/opt/bin\n",
    "quotes": "A='single quoted'\nB=\"double quoted\"\nC='it'\nD=\"\"\n",
    "comments": "# comment\n\n   # indented\nX=1 # not a comment\n",
    "spaces": "  KEY  =  value with spaces  \n",
    "empty-value": "EMPTY=\n",
    "quote-in-value": "Q=it's\nR='a'b'\n",
    "crlf": "A=1\r\nB=2\r\n",
    "bad-key": "1BAD=x\n",
    "no-eq": "JUSTAKEY\n",
    "export-only": "export \n",
    "underscore": "_=x\n__a1=y\n",
    "equals-in-value": "URL=http://x/?a=b&c=d\n",
}

VALIDATE = {
    "bind": "b/src:/dest",
    "bind-ro": "b/src:/dest:ro",
    "bind-rw": "b/src:/dest:rw",
    "bind-bad-mode": "b/src:/dest:rx",
    "bind-dotdot": "b/src:/a/../etc",
    "bind-trailing": "b/src:/dest///",
    "bind-dots-ok": "b/src:/a/..b/.c/d.",
    "bind-root": "b/src://",
    "bind-control": "b/s\nrc:/dest",
    "bind-list": "a/a:/b,/c:/d:ro,,/e:/f",
    "bind-list-dup": "a/a:/b,/a:/b/,/a:/b:ro",
    "bind-list-17": "a" + ",".join(f"/s{i}:/d{i}" for i in range(17)),
    "bind-dest": "k/mnt/x",
    "bind-dest-dot": "k/mnt/./x",
    "port": "p8080:80/tcp",
    "port-single": "p22",
    "port-range": "p1000-2000:3000-4000/udp",
    "port-width": "p1000-2000:1000-1999",
    "port-zero": "p0:80",
    "port-proto": "p80/UDP",
    "memory": "m512M",
    "memory-frac": "m1.5G",
    "memory-bytes": "m4194304",
    "memory-small": "m1M",
    "memory-exp": "m1e3G",
    "count": "c4096",
    "count-big": "c18446744073709551616",
    "dns": "d1.1.1.1,2001:4860:4860::8888",
    "dns-bad": "d1.1.1.1,dns.google",
    "hostname": "hhost.example.org",
    "hostname-dash": "ha.-b",
    "iface": "iwlan0",
    "iface-wild": "Irmnet*",
    "iface-long": "ieth0123456789abcdef",
    "nat-ip": "n172.28.5.9",
    "nat-ip-bad": "n172.28.0.255",
    "uuid": "u0123456789abcdef0123456789abcdef",
    "privileged": "Pnocaps,NOMASK",
    "privileged-full": "Pshared,unfiltered-dev,nomask,noseccomp,nocaps",
    "bool": "BYes",
    "init": "x/sbin/init",
    "init-space": "x/sbin/my init",
    "list": "sa,b c,,d",
    "name": "Nmy box",
    "name-dotdot": "N..",
    "net": "wdelegated-gateway",
    # Inputs that once failed (see the regression unit tests).
    "regress-net-mode-newline": "wnat\nnone",
    "regress-bind-dest-space": "a/a:/mnt/x ",
    "regress-bind-dest-space-slash": "b/a:/mnt/x /:ro",
}

FORMAT = {
    "os-release": "o" + 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' + "\0PRETTY_NAME",
    "os-release-escapes": "o" + 'NAME="A \\"quoted\\" \\$name"\nID=\'alpine\'\n' + "\0NAME",
    "os-release-noname": "oVERSION_ID=3.19\n#NAME=x\n\0VERSION_ID",
    "key-value": "kline one\nline two\rthree",
    "nspid": "n1234\t1",
    "nspid-bad": "n12 x",
    "uptime": "u12345.67 54321.00\0" + "\x10\x27\0\x00\x00\x00\x00\x00\x00\x00\x64",
    "uptime-huge": "u1e300\0\x01\0\x64",
    "uptime-nan": "unan\0\x01\0\x64",
    "bytes": "b\x00\x00\x00\x40\x01\x00\x00\x00",
    "cgroup": "cmax\0max",
    "cgroup-stat": "cusage_usec 123\nuser_usec 100\n\0usage_usec",
    "arch": "aarmv7l",
    "arch-i686": "ai686",
    "regress-uptime-huge-start": "u100.0\0\xff\xff\xff\xff\xff\xff\xff\xff\0\x01",
    "regress-uptime-inf": "uinf\0\x01\0\x64",
    "table": "tbox\x0012\x00systemd\x00/var/lib/x\x00\xc3\xa9t\xc3\xa9\x00\x00\x00",
}

ARCHIVE = {
    "gzip": "m\x1f\x8b\x08\x00",
    "xz": "m\xfd7zXZ\x00",
    "zstd": "m(\xb5/\xfd",
    "bzip2": "mBZh9",
    "image-size": "s4G",
    "image-size-frac": "s1.5GiB",
    "image-size-small": "s1M",
    "image-size-huge": "s17T",
    "image-size-exp": "s1e10",
    "progress": "p" + "\x00\x10\x00\x00\x00\x00\x00\x00" + "\x00\x40\x00\x00\x00\x00\x00\x00" + "\x05\x20\x40\x80\xff",
    "tar-stderr": "ttar: ./dev/null: Cannot mknod: Operation not permitted\ntar: Exiting with failure status due to previous errors\n",
    "tar-nospace": "ttar: ./usr/bin/x: Wrote only 512 of 10240 bytes: No space left on device\r\n",
    "resolve-etc-link": "r/etc/hosts\0\x01\0etc>/private/etc\0private/\0private/etc/\0private/etc/hosts",
    "resolve-dotdot": "r/../../etc/passwd\0\x00\0etc/\0etc/passwd",
    "resolve-loop": "r/a/b\0\x01\0a>b\0b>a",
    "resolve-relative": "r/usr/lib/os-release\0\x01\0usr/\0usr/lib/\0usr/lib/os-release>../../etc/os-release\0etc/\0etc/os-release",
    "resolve-notdir": "r/file/x\0\x00\0file",
    "names": "nmy box.example",
    "names-dashes": "n--a..b--",
    "names-long": "n" + "x" * 70 + ".y",
    "hosts": "n127.0.0.1\tlocalhost # comment\n::1 localhost\n",
}


def tar_header():
    h = bytearray(512)
    h[0:4] = b"etc/"
    h[100:108] = b"0000755\0"
    h[124:136] = b"00000000000\0"
    h[156] = ord("5")
    h[257:263] = b"ustar\0"
    h[148:156] = b"        "
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


OPTIONS = {
    "start": ["-n", "box", "-r", "/var/lib/box", "start"],
    "start-long": ["--name=box", "--rootfs=/srv/box", "--hostname=host", "--dns=9.9.9.9,2620:fe::fe", "start"],
    "start-nat": ["-n", "box", "--net=nat", "--port", "8080:80", "--port=53/udp", "--upstream", "wlan0,rmnet*", "--nat-ip=172.28.1.2", "start"],
    "start-gateway": ["--net", "gateway", "--gateway=router", "--gateway-net=lan", "--gateway-iface=eth1", "--gateway-bridge=br0", "start"],
    "binds": ["-B", "/tmp/share:/mnt/share", "--bind=/tmp/ro:/mnt/ro:ro", "--bind-mount", "./rel:/mnt/rel", "start"],
    "limits": ["--memory", "512M", "--cpus=1.5", "--pids-limit", "100", "start"],
    "cluster": ["-fVnbox", "start"],
    "switches": ["-H", "--gpu", "-X", "--virgl", "--pulse-audio", "-I", "-S", "-P", "--allow-userns", "--force-cgroupv1", "--block-nested-namespaces", "start"],
    "privileged": ["--privileged=nomask,nocaps", "--init", "/sbin/init", "-E", "./env", "start"],
    "reset-conf": ["--reset", "-C", "./ds.config", "restart"],
    "stop-list": ["-n", "a,b,c", "--timeout", "5", "stop"],
    "run": ["-n", "box", "run", "-u", "user", "ls", "-la"],
    "run-dashdash": ["-n", "box", "run", "--", "ls", "-l"],
    "enter": ["-n", "box", "enter", "bob"],
    "help": ["help", "start"],
    "show-json": ["show", "--json", "--format"],
    "install": ["install", "-n", "deb", "--from", "/tmp/rootfs.tar.xz", "--img", "4G", "--fs", "ext4"],
    "unknown": ["--bogus=1", "start"],
    "missing-value": ["start", "-fr"],
    "bad-name": ["-n", "../x", "start"],
    "tx11": ["--tx11-flags", "-legacy-drawing", "--virgl-flags=--use-gles", "start"],
    "bool-value": ["--volatile=1", "start"],
    "home": ["-r", "~/rootfs", "start"],
    "regress-rootfs-outer-space": ["-r", "/ds-x/box ", "start"],
    "regress-hostname-outer-space": ["--hostname= box", "start"],
    "regress-unknown-option-newline": ["--bo\ngus", "start"],
}


def tar_seed(members, fmt=tarfile.USTAR_FORMAT, pax=None):
    """A tar stream of (name, type, extra) members, cut after its end marker; with the byte
    that seeds how tar_fuzz cuts it in front."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers=pax or {}) as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = b""
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "file":
                data = extra.encode()
                info.size, info.mode = len(data), 0o644
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "pax-path":  # a member whose pax path differs from its header name
                info.pax_headers = {"path": extra}
            tar.addfile(info, io.BytesIO(data) if data else None)
    raw = buf.getvalue()
    end = len(raw.rstrip(b"\0"))
    end = (end + 511) // 512 * 512 + 1024
    return b"\x07" + raw[:end]


LONG = "usr/share/" + "very-long-directory-name/" * 5 + "file.txt"

TAR = {
    "rootfs": [("etc/", "dir", None), ("etc/hostname", "file", "box\n"), ("bin/", "dir", None),
               ("bin/busybox", "file", "\x7fELF"), ("bin/sh", "symlink", "busybox"),
               ("bin/ls", "hardlink", "bin/busybox"),
               ("etc/localtime", "symlink", "/usr/share/zoneinfo/UTC"),
               ("dev/", "dir", None), ("dev/null", "chr", None), ("run/", "dir", None),
               ("run/initctl", "fifo", None), ("./", "dir", None), ("etc//x/", "dir", None)],
    "attack-dotdot": [("etc/", "dir", None), ("../evil", "file", "x")],
    "attack-absolute": [("/etc/evil", "file", "x")],
    "attack-symlink-dir": [("evil", "symlink", "/etc"), ("evil/passwd", "file", "x")],
    "attack-hardlink-host": [("x", "hardlink", "/etc/passwd")],
    "attack-hardlink-dotdot": [("a", "file", "a"), ("x", "hardlink", "../a")],
    "attack-hardlink-symlink": [("s", "symlink", "/etc/passwd"), ("h", "hardlink", "s")],
    "attack-replace": [("a", "file", "x"), ("a", "symlink", "/etc/passwd")],
}


# http_head: the first byte picks the head cap (64 + 16 * byte) and the read size (1 + byte % 7).
HTTP_GET = "GET /api/v1/containers/web/console?follow=1&lines=5 HTTP/1.1\r\nHost: 127.0.0.1:8420\r\n" \
    "Authorization: Bearer " + "a" * 64 + "\r\nOrigin: https://mui.kernelsu.org\r\n\r\n"
HTTP_HEAD = {
    "get": "\xff" + HTTP_GET,
    "get-small-cap": "\x02" + HTTP_GET,
    "pipelined": "\x40" + HTTP_GET + HTTP_GET,
    "post-upload": "\xff\r\nPOST /api/v1/install?name=x&filename=bb.tar HTTP/1.1\r\nHost: [::1]:8420\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: 10240\r\n"
                   "Expect: 100-continue\r\n\r\nbody",
    "http10": "\x10GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "terminal": "\x30DELETE /api/v1/containers/a/terminal/" + "0f" * 16 + " HTTP/1.1\r\n\r\n",
    "chunked": "\xffPOST /api/v1/containers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "attack-cl-te": "\xffPOST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
    "attack-cl-cl": "\xffPOST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
    "attack-te-space": "\xffPOST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
    "attack-obs-fold": "\xffGET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    "attack-bare-lf": "\xffGET / HTTP/1.1\nHost: x\n\n",
    "attack-bare-cr": "\xffGET / HTTP/1.1\rHost: x\r\n\r\n",
    "attack-dotdot": "\xffGET /%2e%2e/%2E%2e/etc/passwd HTTP/1.1\r\n\r\n",
    "attack-nul": "\xffGET /index.html%00.js?x=%00 HTTP/1.1\r\n\r\n",
    "attack-log-lf": "\xffGET /a%0d%0aGET%20/b HTTP/1.1\r\n\r\n",
    "attack-absolute": "\xffGET http://evil.example/ HTTP/1.1\r\n\r\n",
    "attack-version": "\xffGET / HTTP/1.2\r\n\r\n",
    "attack-flood": "\x00GET / HTTP/1.1\r\n" + "X-Flood: y\r\n" * 40 + "\r\n",
    "attack-crlf-flood": "\x01" + "\r\n" * 200 + "GET / HTTP/1.1\r\n\r\n",
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    for name, text in CONFIG.items():
        write("config", name, text)
    for name, text in ENV.items():
        write("env_file", name, text)
    for name, text in VALIDATE.items():
        write("validate", name, text)
    for name, text in FORMAT.items():
        write("format", name, text)
    for name, text in ARCHIVE.items():
        write("archive", name, text)
    write("archive", "tar-header", b"m" + tar_header())
    for name, members in TAR.items():
        write("tar", name, tar_seed(members))
    write("tar", "pax-long", tar_seed([(LONG, "file", "x"), (LONG + ".lnk", "symlink", "/" + LONG)],
                                      tarfile.PAX_FORMAT))
    write("tar", "gnu-long", tar_seed([(LONG, "file", "x"), ("l", "hardlink", LONG)],
                                      tarfile.GNU_FORMAT))
    write("tar", "attack-pax-path", tar_seed([("x", "pax-path", "../x")], tarfile.PAX_FORMAT))
    write("tar", "attack-pax-global", tar_seed([("x", "file", "x")], tarfile.PAX_FORMAT,
                                               {"path": "../x"}))
    write("tar", "member-path", "\x00../a/./b//c")
    for name, text in HTTP_HEAD.items():
        write("http_head", name, text)
    for name, argv in OPTIONS.items():
        write("options", name, "\0".join(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
