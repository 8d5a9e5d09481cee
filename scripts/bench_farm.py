#!/usr/bin/env python3
"""Generate the benchmark's synthetic fixture farm, deterministically from a seed.

    scripts/bench_farm.py --sites N [--seed S] --out DIR

Writes, under DIR:

  sites/<host>/...   one directory per filed site, in the layout
                     `fixture-farm --root DIR/sites` serves (index.html,
                     assets, `_site.json` routes)
  records.csv        the filed records: domain, service_name, icp_number,
                     gongan_number, id
  expected.json      {domain: ["<code> <target>", ...]}: the exact findings a
                     correct scan reports (target `http://host/#device`, or
                     `record`), sorted
  urls.txt           the pages the floor loads: each record's four targets
                     (apex and www., each once per device), one URL a line
  manifest.json      the seed, the site count and how many sites of each kind

The mix imitates what filed sites look like (see KINDS): mostly static
footers; footers written by a script at once or after a 200-1500 ms timer;
client-rendered apps that build the page from a JSON fetch; pages heavy with
images or web fonts; long pages; a few slow, broken and apex -> www
redirecting sites; and sites with a wrong, missing, unlinked, badly linked,
hidden or misplaced number (or a wrong title, or a missing 公安备案号), so
that accuracy is tested both ways. Same seed, same bytes.
"""

import argparse
import json
import os
import random
import struct
import zlib

# (kind, share of the sites). Defective kinds draw their page style from
# STYLES, so a wrong number may also arrive late by script.
KINDS = [
    ("static", 0.32),
    ("images", 0.10),
    ("fonts", 0.06),
    ("long", 0.06),
    ("js-now", 0.08),
    ("js-timer", 0.08),
    ("spa", 0.08),
    ("slow", 0.03),
    ("redirect-www", 0.04),
    ("broken", 0.04),
    ("bad-wrong-number", 0.02),
    ("bad-missing", 0.02),
    ("bad-unlinked", 0.02),
    ("bad-wrong-link", 0.01),
    ("bad-hidden", 0.01),
    ("bad-title", 0.01),
    ("bad-not-in-footer", 0.01),
    ("bad-gongan-missing", 0.01),
]
STYLES = ["static", "js-now", "js-timer", "spa"]

# Every finding of a defective kind is on all four targets.
DEFECT_CODE = {
    "bad-wrong-number": "icp-number-wrong",
    "bad-missing": "icp-number-missing",
    "bad-unlinked": "icp-not-linked",
    "bad-wrong-link": "icp-link-wrong-url",
    "bad-hidden": "icp-hidden",
    "bad-title": "title-mismatch",
    "bad-not-in-footer": "icp-not-in-footer",
    "bad-gongan-missing": "gongan-number-missing",
}

# The provinces that issue ICP numbers (SPEC §1), with the character their
# 公安 numbers use.
PROVINCES = {
    "京": "京", "津": "津", "冀": "冀", "晋": "晋", "蒙": "蒙", "辽": "辽", "吉": "吉",
    "黑": "黑", "沪": "沪", "苏": "苏", "浙": "浙", "皖": "皖", "闽": "闽", "赣": "赣",
    "鲁": "鲁", "豫": "豫", "鄂": "鄂", "湘": "湘", "粤": "粤", "桂": "桂", "琼": "琼",
    "渝": "渝", "蜀": "川", "黔": "贵", "滇": "云", "藏": "藏", "陕": "陕", "陇": "甘",
    "青": "青", "宁": "宁", "新": "新",
}

# Names free of the restricted words of the site-name rule.
NAME_HEADS = ["清风", "青木", "远山", "星河", "锦鲤", "白鹭", "松石", "云栖", "南山", "北辰",
              "晨曦", "墨竹", "听雨", "拾光", "半夏", "知行", "橙子", "蓝鲸", "石榴", "海棠"]
NAME_TAILS = ["文化", "书店", "茶社", "云课堂", "音乐", "科技", "设计", "工作室", "旅行", "花艺",
              "咖啡", "家居", "摄影", "烘焙", "体育", "农场", "软件", "物流", "美术馆", "民宿"]
TAGLINES = ["官方网站", "欢迎光临", "在线服务", "首页", "品质生活", "用心服务每一天"]
WORDS = ["我们", "专注", "提供", "优质", "服务", "客户", "产品", "设计", "团队", "经验", "欢迎",
         "联系", "合作", "创新", "品质", "生活", "城市", "自然", "阅读", "时间", "每天", "新品"]

MIIT_HREFS = ["https://beian.miit.gov.cn/", "http://beian.miit.gov.cn",
              "https://beian.miit.gov.cn/#/Integrated/index"]
WRONG_HREFS = ["http://www.miitbeian.gov.cn/", "https://beian.miit.gov.cn/#/Integrated/recordQuery",
               "http://www.beian.miit.gov.cn/"]

CSS = """body { margin: 0; font-family: "PingFang SC", "Microsoft YaHei", sans-serif; color: #333; line-height: 1.7; }
header { background: #2b5d8a; color: #fff; padding: 12px 24px; }
header h1 { margin: 0; font-size: 22px; }
nav a { color: #fff; margin-right: 18px; text-decoration: none; }
main { max-width: 960px; margin: 0 auto; padding: 24px; }
.gallery img { margin: 4px; vertical-align: top; }
footer, .site-footer { border-top: 1px solid #ddd; color: #888; font-size: 13px; text-align: center; padding: 18px 12px; }
footer a { color: #888; }
.topbar { font-size: 12px; background: #f4f4f4; padding: 4px 24px; }
@media (max-width: 600px) {
  header { padding: 8px 12px; }
  nav a { display: inline-block; margin: 4px 8px 4px 0; }
  main { padding: 12px; }
  .gallery img { width: 30%; height: auto; }
}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.sites < 1:
        parser.error("--sites must be at least 1")
    Farm(args.seed, args.out).generate(args.sites)


def deal(rng, n):
    """The kinds of `n` sites in a seeded order: shares rounded down, every
    kind at least once when there are enough sites, the rest by largest
    remainder; `static` absorbs the difference."""
    counts = {kind: int(share * n + 1e-9) for kind, share in KINDS}
    if n >= len(KINDS):
        counts = {kind: max(1, c) for kind, c in counts.items()}
    rest = n - sum(counts.values())
    by_fraction = sorted(KINDS, key=lambda ks: (-(ks[1] * n - int(ks[1] * n + 1e-9)), -ks[1]))
    for kind, _ in by_fraction[:max(rest, 0)]:
        counts[kind] += 1
    if rest < 0:
        counts["static"] += rest
    deck = [kind for kind, _ in KINDS for _ in range(counts[kind])]
    rng.shuffle(deck)
    return deck


class Farm:
    def __init__(self, seed, out):
        self.rng = random.Random(seed)
        self.seed = seed
        self.out = out
        self.used_numbers = set()

    def generate(self, n):
        os.makedirs(os.path.join(self.out, "sites"), exist_ok=True)
        records, expected, urls, kinds = [], {}, [], {}
        for i, kind in enumerate(deal(self.rng, n), start=1):
            site = self.site(i, kind)
            records.append(site)
            expected[site["domain"]] = site["expected"]
            for host in (site["domain"], "www." + site["domain"]):
                urls += [f"http://{host}/"] * 2
            kinds[kind] = kinds.get(kind, 0) + 1
        with open(os.path.join(self.out, "records.csv"), "w", encoding="utf-8", newline="") as f:
            f.write("domain,service_name,icp_number,gongan_number,id\n")
            for r in records:
                f.write(f"{r['domain']},{r['name']},{r['icp']},{r['gongan'] or ''},{r['id']}\n")
        write_json(os.path.join(self.out, "expected.json"), expected)
        with open(os.path.join(self.out, "urls.txt"), "w", encoding="utf-8") as f:
            f.write("".join(u + "\n" for u in urls))
        write_json(os.path.join(self.out, "manifest.json"),
                   {"seed": self.seed, "sites": n, "targets": 4 * n, "kinds": kinds})

    # -- one site -----------------------------------------------------------

    def site(self, i, kind):
        rng = self.rng
        domain = f"b{i:04d}-{kind}.test"
        name = rng.choice(NAME_HEADS) + rng.choice(NAME_TAILS)
        province = rng.choice(list(PROVINCES))
        icp = self.icp_number(province)
        has_gongan = kind == "bad-gongan-missing" or (not kind.startswith("bad-") and rng.random() < 0.3)
        gongan = self.gongan_number(province) if has_gongan else None
        site = {"id": f"bench-{i:04d}", "domain": domain, "name": name, "icp": icp,
                "gongan": gongan, "kind": kind}
        d = SiteDir(os.path.join(self.out, "sites", domain))
        d.write("css/site.css", CSS)
        style = rng.choice(STYLES) if kind.startswith("bad-") else kind
        title = f"{name} - {rng.choice(TAGLINES)}"
        if kind == "bad-title":
            other = name
            while name in other:
                other = rng.choice(NAME_HEADS) + rng.choice(NAME_TAILS)
            title = f"{other} - {rng.choice(TAGLINES)}"
        footer = self.footer(site, kind)
        head, body, sections = "", "", self.sections(rng.randint(3, 8))
        routes = {}
        if rng.random() < 0.5:
            d.write("js/vendor.js", vendor_js(rng))
            head += '<script src="/js/vendor.js"></script>\n'

        if kind == "images":
            body += self.gallery(d)
        elif kind == "fonts":
            head += self.fonts(d)
        elif kind == "long":
            # A portal's front page: hundreds of sections of link lists.
            sections = self.sections(rng.randint(200, 500), links=True)
        elif kind == "slow":
            routes["/"] = {"delay_ms": rng.randint(800, 2500)}
        elif kind == "redirect-www":
            routes["/"] = {"host": domain, "status": 301,
                           "headers": {"Location": f"http://www.{domain}/"}}
        elif kind == "broken":
            status = rng.choice([404, 500])
            page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{status}</title>"
                    f"</head><body><h1>{status}</h1><p>nginx</p></body></html>\n")
            if rng.random() < 0.34:
                # Only the www. host is unconfigured; the apex works.
                site["broken_www_only"] = True
                routes["/"] = {"host": "www." + domain, "status": status, "body": page}
            else:
                routes["*"] = {"status": status, "body": page}
        elif kind == "bad-not-in-footer":
            # The number sits in a top bar; the page below is long.
            sections = self.sections(40)

        topbar = ""
        if kind == "bad-not-in-footer":
            topbar, footer = f'<div class="topbar">{footer}</div>', ""

        if style == "spa":
            d.write("api/site.json", json.dumps(
                {"title": title, "name": name, "topbar": topbar, "main": sections + body,
                 "footer": footer}, ensure_ascii=False))
            d.write("js/app.js", SPA_JS)
            html = page_html("加载中…", head + '<script src="/js/app.js" defer></script>\n',
                             '<div id="app"></div>')
        else:
            footer_html = footer
            script = ""
            if style == "js-now":
                d.write("js/footer.js", "(function () {\n  var f = document.getElementById('footer');\n"
                        f"  f.innerHTML = {json.dumps(footer, ensure_ascii=False)};\n}})();\n")
                head += '<script src="/js/footer.js" defer></script>\n'
                footer_html = ""
            elif style == "js-timer":
                delay = rng.randint(200, 1500)
                trigger = rng.choice(["load", "DOMContentLoaded"])
                script = ("<script>\n  window.addEventListener('" + trigger + "', function () {\n"
                          "    setTimeout(function () {\n"
                          "      document.getElementById('footer').innerHTML = "
                          f"{json.dumps(footer, ensure_ascii=False)};\n"
                          f"    }}, {delay});\n  }});\n</script>\n")
                footer_html = ""
            footer_tag = f'<footer id="footer" class="site-footer">{footer_html}</footer>' if footer or style != "static" else ""
            body_html = (f"{topbar}<header><h1>{name}</h1>{NAV}</header>\n"
                         f"<main>\n{sections}{body}</main>\n{footer_tag}\n{script}")
            html = page_html(title, head, body_html)
        d.write("index.html", html)
        if routes:
            d.write("_site.json", json.dumps({"about": f"bench site, kind {kind}", "routes": routes},
                                             ensure_ascii=False, indent=1))
        site["expected"] = expected_findings(site)
        return site

    def icp_number(self, province):
        while True:
            if self.rng.random() < 0.5:
                serial = f"{self.rng.randint(10, 23)}{self.rng.randint(0, 999999):06d}"
            else:
                serial = f"{self.rng.randint(2015, 2024)}{self.rng.randint(0, 999999):06d}"
            number = f"{province}ICP备{serial}号-{self.rng.randint(1, 5)}"
            if serial not in self.used_numbers:
                self.used_numbers.add(serial)
                return number

    def gongan_number(self, province):
        digits = "".join(str(self.rng.randint(0, 9)) for _ in range(14))
        return f"{PROVINCES[province]}公网安备 {digits}号"

    def footer(self, site, kind):
        rng = self.rng
        icp = site["icp"]
        shown = icp
        if kind == "bad-wrong-number":
            shown = self.icp_number(icp[0])
        text = spell(rng, shown)
        href = rng.choice(MIIT_HREFS)
        prefix = rng.choice(["", "", "备案号：", "ICP备案号："])
        if kind == "bad-missing":
            icp_html = "<span>本站内容仅供参考</span>"
        elif kind == "bad-unlinked":
            icp_html = f"<span>{prefix}{text}</span>"
        elif kind == "bad-wrong-link":
            icp_html = f'<a href="{rng.choice(WRONG_HREFS)}" target="_blank">{prefix}{text}</a>'
        elif kind == "bad-hidden":
            icp_html = f'<span style="display:none"><a href="{href}">{text}</a></span>'
        else:
            icp_html = f'{prefix}<a href="{href}" target="_blank" rel="noopener">{text}</a>'
        gongan_html = ""
        if site["gongan"] and kind != "bad-gongan-missing":
            digits = site["gongan"].split(" ")[1].rstrip("号")
            gongan_html = (f' <a href="https://beian.mps.gov.cn/#/query/webSearch?code={digits}" '
                           f'target="_blank">{site["gongan"]}</a>')
        return f"<p>© 2024 {site['name']} 版权所有</p><p>{icp_html}{gongan_html}</p>"

    def sections(self, n, links=False):
        rng = self.rng
        out = []
        for k in range(n):
            heading = "".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))
            para = "，".join("".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
                            for _ in range(rng.randint(2, 6)))
            items = ""
            if links:
                items = "<ul>" + "".join(
                    f'<li><a href="/news/{k}-{j}.html">'
                    + "".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))
                    + f"</a> <span>2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}</span></li>"
                    for j in range(rng.randint(4, 10))) + "</ul>"
            out.append(f"<section><h2>{heading}</h2><p>{para}。</p>{items}</section>\n")
        return "".join(out)

    def gallery(self, d):
        """24-48 small images (PNG and SVG), each its own file."""
        rng = self.rng
        tags = []
        for k in range(rng.randint(24, 48)):
            size = rng.choice([32, 48, 64, 96])
            if rng.random() < 0.6:
                d.write_bytes(f"img/p{k:02d}.png", png(rng, size))
                tags.append(f'<img src="/img/p{k:02d}.png" width="{size}" height="{size}" alt="">')
            else:
                d.write(f"img/s{k:02d}.svg", svg(rng, size))
                tags.append(f'<img src="/img/s{k:02d}.svg" width="{size}" height="{size}" alt="">')
        return '<div class="gallery">' + "".join(tags) + "</div>\n"

    def fonts(self, d):
        """Two web fonts the body text uses (font content type, random bytes)."""
        rules = []
        for weight in (400, 700):
            data = b"wOF2" + bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(30_000, 90_000)))
            d.write_bytes(f"fonts/site-{weight}.woff2", data)
            rules.append(f"@font-face {{ font-family: 'SiteSans'; font-weight: {weight}; "
                         f"src: url(/fonts/site-{weight}.woff2) format('woff2'); }}")
        rules.append("body { font-family: 'SiteSans', sans-serif; } h1, h2 { font-weight: 700; }")
        return "<style>\n" + "\n".join(rules) + "\n</style>\n"


def expected_findings(site):
    """Sorted `"<code> <target>"` strings for the findings a correct scan reports."""
    domain, kind = site["domain"], site["kind"]
    hosts = [domain, "www." + domain]
    if kind == "broken":
        hosts = hosts[1:] if site.get("broken_www_only") else hosts
        codes = ["site-unreachable"]
    else:
        codes = [DEFECT_CODE[kind]] if kind in DEFECT_CODE else []
    return sorted(f"{code} http://{host}/#{device}"
                  for code in codes for host in hosts for device in ("desktop", "mobile"))


def spell(rng, number):
    """The number as sites write it: plain, spaced, or split over spans."""
    how = rng.random()
    if how < 0.7:
        return number
    if how < 0.85:
        head, tail = number.split("备", 1)
        return f"{head} 备 {tail.replace('号-', '号 - ')}"
    head, tail = number.split("备", 1)
    return f"<span>{head}备</span><span>{tail}</span>"


NAV = ('<nav><a href="/">首页</a><a href="/about.html">关于我们</a>'
       '<a href="/services.html">产品服务</a><a href="/contact.html">联系我们</a></nav>')

SPA_JS = """// A client-rendered app: the whole page, footer included, comes from a JSON fetch.
(function () {
  fetch('/api/site.json').then(function (r) { return r.json(); }).then(function (d) {
    document.title = d.title;
    document.getElementById('app').innerHTML =
      d.topbar + '<header><h1>' + d.name + '</h1></header><main>' + d.main + '</main>' +
      (d.footer ? '<footer class="site-footer">' + d.footer + '</footer>' : '');
  });
})();
"""


def page_html(title, head, body):
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<link rel=\"stylesheet\" href=\"/css/site.css\">\n{head}"
            f"</head>\n<body>\n{body}\n</body>\n</html>\n")


def vendor_js(rng):
    """20-60 KB of script that a page parses and runs a little of at load."""
    n = rng.randint(150, 450)
    funcs = [f"function v{k}(a, b) {{ var s = 0; for (var i = 0; i < {rng.randint(5, 50)}; i++) "
             f"{{ s += (a * {rng.randint(1, 97)} + i) % (b + {k + 1}); }} return s; }}" for k in range(n)]
    calls = " + ".join(f"v{rng.randrange(n)}({rng.randint(1, 9)}, {rng.randint(1, 9)})" for _ in range(20))
    return "\n".join(funcs) + f"\nwindow.__vendorReady = {calls};\n"


def png(rng, size):
    """A `size`x`size` RGB PNG of noise (so it does not compress away)."""
    raw = b"".join(b"\x00" + bytes(rng.getrandbits(8) for _ in range(size * 3)) for _ in range(size))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def svg(rng, size):
    shapes = "".join(
        f'<circle cx="{rng.randint(0, size)}" cy="{rng.randint(0, size)}" r="{rng.randint(2, size // 3)}" '
        f'fill="#{rng.getrandbits(24):06x}"/>' for _ in range(rng.randint(3, 12)))
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}">{shapes}</svg>\n'


class SiteDir:
    def __init__(self, root):
        self.root = root

    def write(self, rel, text):
        self.write_bytes(rel, text.encode("utf-8"))

    def write_bytes(self, rel, data):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
