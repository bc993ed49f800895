#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/<target>/ (run from anywhere; idempotent).

Seeds are small, meaningful inputs that reach each target's main paths; the fuzzer grows its own
working corpus from them (tools/fuzz keeps that outside the repository). Archives are made with
Python's tarfile/zipfile and, for 7z, libarchive itself (through ctypes)."""
import bz2, ctypes, ctypes.util, gzip, io, lzma, os, pathlib, tarfile, zipfile

here = pathlib.Path(__file__).resolve().parent
fixtures = here.parent.parent.parent / "shared" / "fixtures" / "default-packages" / "packages"


def write(target, name, data):
    d = here / target
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


# ---- http_request: first byte = read size - 1, then the bytes on the wire ----
def http(name, size, wire):
    write("http_request", name, bytes([size]) + wire.encode())

http("get_keepalive_pipelined", 255, "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
http("post_json", 7, 'POST /account/authenticate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n{"username":"a","password":"correct"}\n')
http("chunked", 3, "POST /settings/set HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n3;ext=1\r\n1}\n\r\n0\r\nTrailer: t\r\n\r\n")
# Beast 1.81 aborted (assert n >= 5 in parse_chunk_header) on a last chunk fed to it byte by byte:
# the connection now frames a chunked body itself first (server/request_framing.hpp).
http("chunked_last_chunk_bytewise", 0, "POST /account/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
http("expect_continue", 255, "POST /storage/create HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 16\r\n\r\n{\"name\":\"media\"}")
http("upload_streamed", 31, "POST /storage/upload-archive HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 64\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"subvolume\"\r\n\r\nm\r\n--b--\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
http("upload_without_length", 255, "POST /storage/upload-archive HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
http("query_percent", 0, "GET /systemd/logs/tail?unit=a%20b.service&lines=5&grep=%E2%9C%93#frag HTTP/1.1\r\nHost: x\r\n\r\n")
http("http10_head", 255, "HEAD /status/ping HTTP/1.0\r\n\r\n")
http("too_large", 255, "POST /account/create HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
http("absolute_form", 255, "GET http://x/health HTTP/1.1\r\nHost: x\r\n\r\n")
http("folded_and_duplicate", 255, "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\nX: a\r\n b\r\n\r\n")

# ---- json_body ----
write("json_body", "account", '{"username":"admin","password":"correct-horse","email":"me@example.com","phone":"555","real_name":"Me","admin":true}')
write("json_body", "nested", '{"Name":"x","fields":{"email":"a@b","n":-9223372036854775808,"list":["a","b\\u0000"]},"quota":1e3}')
write("json_body", "types", '{"a":null,"b":[1,2,{"c":false}],"c":"\\ud83d\\ude00\\n","d":18446744073709551616,"e":0.5,"a":"dup"}')
write("json_body", "not_object", '["a",1]')
write("json_body", "settings", '{"key":"ui.theme","value":{"dark":true,"accent":"#fff"}}')

# ---- multipart: byte 0 = chunk size (0: whole), Content-Type line, body ----
def mp(name, chunk, ctype, body):
    write("multipart", name, bytes([chunk]) + (ctype + "\n").encode() + body.encode())

form = ('preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="subvolume"\r\n\r\nmedia\r\n'
        '--XyZ\r\nContent-Disposition: form-data; name="archive"; filename="a.tar"\r\nContent-Type: application/x-tar\r\n\r\n'
        'data with \r\n--XyZnot a delimiter\r\n--XyZ--\r\nepilogue')
mp("upload_form", 0, "multipart/form-data; boundary=XyZ", form)
mp("upload_form_bytewise", 1, 'multipart/form-data; charset=utf-8; boundary="XyZ"', form)
mp("unterminated", 7, "multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue')
mp("wrong_type", 0, "application/json", "{}")
mp("filename_star", 5, "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
   "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''na%C3%AFve.zip\r\n\r\nPK\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n")

# ---- package_definition: YAML, NUL, answers as key=value lines ----
for pkg, answers in [("redis/1.0", ""), ("gitea/2.0", "ssh_port=2222\nhostname=git.home\n"), ("plex/1.0", "auto=auto\n"),
                     ("immich/2.0", ""), ("irc/1.0", "")]:
    text = (fixtures / (pkg + ".yaml")).read_text()
    write("package_definition", pkg.replace("/", "_"), text + "\0" + answers)
write("package_definition", "vm_and_anchors", "vm:\n  image: &i http://x/a.qcow2\n  memory: 2G\nquestions:\n  q: &q\n    query: Q\n    type: bytes\n    default: 1gb\n  r: *q\nvolumes:\n  data:\n    mountpoint: /d\n    quota: '@q@'\n\0q=2mb\n")
write("package_definition", "markers_everywhere", "image: nginx@@latest\ncommand: ['@cmd@', '@@x@']\nenvironment:\n  A: '@p@'\nnetwork:\n  external:\n    '@p@': 80\n  internal:\n    http: '@p@'\nquestions:\n  p:\n    query: port\n    type: port\n  cmd:\n    query: c\n\0p=8080\ncmd=run\n")

# ---- template: template, NUL, JSON data ----
data = '{"Responses":{"a":"1","b":"x y"},"Package":{"Name":"p"},"System":{"Host":"h"},"Dep":{"db":{"Host":"h","Ports":{"sql":"5432"}}}}'
for name, t in [("fields", "host={{.Dep.db.Host}}:{{index .Dep.db.Ports \"sql\"}}\nname={{ .Package.Name }}\n"),
                ("trim_comment", "{{- /* comment */ -}}\n  {{- .Responses.a -}}  \n{{.Missing.Key}}"),
                ("markers", "@a@@@b@ @@ @unknown@ @@@a@"),
                ("unsupported", "{{range .Responses}}{{.}}{{end}}{{if .X}}y{{end}}"),
                ("unterminated", "{{ .Responses.a ")]:
    write("template", name, t + "\0" + data)

# ---- journal_query: Last-Event-ID line, then query lines ----
cur = "s=0123456789abcdef0123456789abcdef;i=1a2b;b=fedcba9876543210fedcba9876543210;m=5f5e100;t=5f3a1c2b3d4e5;x=deadbeefcafe"
write("journal_query", "cursor_and_tail", cur + "\nunit=town-os-package--gitea.service\nlines=50\ngrep=Error\npriority=4\nafter=" + cur.replace("i=1a2b", "i=1a2a"))
write("journal_query", "since_until", "\nunit=__system__\nsince=1700000000\nuntil=1800000000\nlines=0")
write("journal_query", "before_and_after", "\nbefore=" + cur + "\nafter=" + cur)
write("journal_query", "stream_resume", "\nlast_event_id=" + cur + "\nlines=10000")
write("journal_query", "bad_values", "s=;i=;b=;m=;t=;x=\nlines=-1\npriority=8\nsince=99999999999999\nunit=../x")
write("journal_query", "utf8", "\xc3\x28\xe2\x82\xa1\xf0\x9f\x98\x80\xed\xa0\x80\nunit=a")

# ---- names ----
for name, text in [("unit", "town-os-package--gitea.service"), ("unit_template", "town-os-system--dns@home.socket"),
                   ("relative", "media/photos/2024"), ("traversal", "user/../gfeh/x"), ("dot_components", "./a/./b/"),
                   ("package_volume", "installed/default/immich--dep--db/1.0/data"), ("reserved", "gfeh"),
                   ("option", "-rf"), ("control", "a\nb\tc\x7f"), ("download", "dir/My Photos; \"2024\".tar.gz")]:
    write("names", name, text)

# ---- dns_records: byte 0 = type (A AAAA CNAME MX TXT SRV PTR, mod 7), then "name\0value" ----
for name, (t, owner, value) in {"a": (0, "printer", "10.0.0.1"), "aaaa": (1, "printer6.home.", "FD00::1"),
                                "cname": (2, "alias", "printer.home"), "mx": (3, "@", "10 mail.example.com"),
                                "txt_injection": (4, "t", 'say "hi"; $ORIGIN evil.\n@ IN NS x.'),
                                "txt_quotes": (4, "note", 'say "hi"; $ORIGIN evil. \\ caf\u00e9'),
                                "srv": (5, "_sip._tcp", "10 5 5060 sip.home"), "ptr": (6, "rev", "printer.home"),
                                # a finding: rendering folded this owner ("pri.home") a second time
                                "owner_ending_in_tld": (1, "pri.home.home.", "F1::1"),
                                # a finding: inet_ntop writes this address with a dotted tail
                                "aaaa_ipv4_compatible": (1, "pome", "::1:1"),
                                "newline_owner": (0, "www\n$INCLUDE /etc/shadow", "10.0.0.1")}.items():
    write("dns_records", name, bytes([t]) + owner.encode() + b"\0" + value.encode())

# ---- monitoring_proxy: byte 0 even = a path below /monitoring/grafana/ then "\0query"; odd = a
# Prometheus target list ----
for name, (mode, text) in {"graph": (0, "graph"), "query": (0, "api/v1/query\0query=up%7Bjob%3D%22node%22%7D"),
                           "dotdot": (0, "../metrics"), "encoded_dotdot": (0, "%2e%2E/x"),
                           "encoded_slash": (0, "a%2fb"), "crlf_query": (0, "graph\0a=\r\nHost: evil"),
                           "targets": (1, '{"status":"success","data":{"activeTargets":[{"labels":{"job":"node",'
                                          '"instance":"127.0.0.1:9100"},"health":"up","lastError":""}]}}')}.items():
    write("monitoring_proxy", name, bytes([mode]) + text.encode())
# ---- vm_images: byte 0 = redirect base (mod 3) and size limit, then a URL, Location, name or JSON ----
for name, (b, text) in {"url_https": (0, "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-nocloud-amd64.qcow2"),
                        "url_decimal_loopback": (0, "http://2130706433/"), "url_octal_loopback": (1, "http://0177.0.0.1/"),
                        "url_mapped_v6": (2, "http://[::ffff:127.0.0.1]:8080/a.img?x=1#f"),
                        "url_userinfo": (0, "http://user:pw@example.org/x.qcow2"),
                        "redirect_relative": (0, "../other/disk.img?v=2"), "redirect_metadata": (1, "http://169.254.169.254/latest/meta-data/"),
                        "name_traversal": (0, "../../etc/passwd"), "allow_entry": (0, "[fe80::1]:8080"),
                        "info_backing": (0, '{"virtual-size":512,"format":"qcow2","backing-filename":"/etc/shadow"}'),
                        "info_vmdk_extents": (0, '{"virtual-size":1,"filename":"a","format":"vmdk","format-specific":{"data":{"extents":[{"filename":"/dev/sda"}]}}}')}.items():
    write("vm_images", name, bytes([b]) + text.encode())

# ---- archive_extract: byte 0 = filter (0 as is, 1 gzip, 2 bzip2, 3 xz), then the archive ----
def tar_bytes(hostile=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(name, data=b"", type=tarfile.REGTYPE, link="", mode=0o644):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode, info.size = type, link, mode, len(data)
            tf.addfile(info, io.BytesIO(data) if data else None)
        add("dir", type=tarfile.DIRTYPE, mode=0o755)
        add("dir/file.txt", b"hello\n")
        add("dir/link", type=tarfile.SYMTYPE, link="file.txt")
        add("dir/hard", type=tarfile.LNKTYPE, link="dir/file.txt")
        add("setuid", b"x", mode=0o4755)
        if hostile:
            add("escape", type=tarfile.SYMTYPE, link="../../beside")
            add("escape/owned", b"pwned")
            add("../up", b"x")
            add("fifo", type=tarfile.FIFOTYPE)
    # tarfile pads to a 10 KiB record; libarchive needs only the two zero blocks that end a tar.
    data = buf.getvalue().rstrip(b"\0")
    return data + b"\0" * (-len(data) % 512 + 1024)

def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dir/", "")
        zf.writestr("dir/a.txt", "zip member\n" * 4)
        zf.writestr("../evil", "x")
    return buf.getvalue()

def seven_zip_bytes():
    la = ctypes.CDLL(ctypes.util.find_library("archive") or "libarchive.so.13")
    la.archive_write_new.restype = ctypes.c_void_p
    la.archive_entry_new.restype = ctypes.c_void_p
    for f in ("archive_write_set_format_7zip", "archive_write_open_memory", "archive_write_header",
              "archive_write_data", "archive_write_close", "archive_write_free", "archive_entry_set_pathname",
              "archive_entry_set_filetype", "archive_entry_set_perm", "archive_entry_set_size", "archive_entry_free",
              "archive_entry_set_symlink"):
        getattr(la, f).argtypes = None
    a = ctypes.c_void_p(la.archive_write_new())
    la.archive_write_set_format_7zip(a)
    out = ctypes.create_string_buffer(1 << 16)
    used = ctypes.c_size_t(0)
    la.archive_write_open_memory(a, out, ctypes.c_size_t(len(out)), ctypes.byref(used))
    for name, data, kind, link in [(b"dir", b"", 0o040000, None), (b"dir/seven.txt", b"7z member\n" * 8, 0o100000, None),
                                   (b"dir/up", b"", 0o120000, b"../../x")]:
        e = ctypes.c_void_p(la.archive_entry_new())
        la.archive_entry_set_pathname(e, ctypes.c_char_p(name))
        la.archive_entry_set_filetype(e, ctypes.c_uint(kind))
        la.archive_entry_set_perm(e, ctypes.c_uint(0o755 if kind == 0o040000 else 0o644))
        la.archive_entry_set_size(e, ctypes.c_int64(len(data)))
        if link:
            la.archive_entry_set_symlink(e, ctypes.c_char_p(link))
        la.archive_write_header(a, e)
        if data:
            la.archive_write_data(a, ctypes.c_char_p(data), ctypes.c_size_t(len(data)))
        la.archive_entry_free(e)
    la.archive_write_close(a)
    la.archive_write_free(a)
    return out.raw[: used.value]

plain, hostile = tar_bytes(), tar_bytes(hostile=True)
seeds = {
    "tar": b"\0" + plain, "tar_hostile": b"\0" + hostile,
    "tar_gz": b"\0" + gzip.compress(plain), "tar_bz2": b"\0" + bz2.compress(plain), "tar_xz": b"\0" + lzma.compress(plain),
    "zip": b"\0" + zip_bytes(), "7z": b"\0" + seven_zip_bytes(),
    "wrap_gzip_hostile": b"\1" + hostile, "wrap_bzip2": b"\2" + plain, "wrap_xz": b"\3" + plain,
}
for name, data in seeds.items():
    write("archive_extract", name, data)
