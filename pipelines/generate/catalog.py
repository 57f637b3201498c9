"""Static reference data of the generator: countries, user agents, daily cycle."""

from __future__ import annotations

# Viewer countries (ISO 3166-1 alpha-2) with rough shares of a global video audience.
VIEWER_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 24.0),
    ("GB", 7.0),
    ("IN", 9.0),
    ("BR", 6.0),
    ("DE", 4.5),
    ("FR", 4.0),
    ("CA", 4.0),
    ("MX", 3.5),
    ("JP", 3.0),
    ("ID", 3.0),
    ("PH", 2.5),
    ("ES", 2.5),
    ("IT", 2.0),
    ("AU", 2.0),
    ("NG", 1.8),
    ("TR", 1.8),
    ("KR", 1.5),
    ("PL", 1.5),
    ("NL", 1.4),
    ("AR", 1.2),
    ("SE", 1.0),
    ("ZA", 1.0),
    ("EG", 1.0),
    ("VN", 1.0),
    ("IE", 0.8),
    ("NZ", 0.6),
    ("PT", 0.6),
    ("CH", 0.5),
    ("NO", 0.5),
    ("AE", 0.5),
    ("SG", 0.4),
    ("KE", 0.4),
)

# Creator home countries: mostly US/GB (the eligible ones), plus others.
CREATOR_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 45.0),
    ("GB", 20.0),
    ("CA", 8.0),
    ("AU", 5.0),
    ("IN", 6.0),
    ("DE", 4.0),
    ("BR", 4.0),
    ("FR", 3.0),
    ("IE", 2.0),
    ("NG", 1.5),
    ("PH", 1.5),
)

# Human user agents: browsers on desktop and mobile, the native apps, TVs.
HUMAN_USER_AGENTS: tuple[tuple[str, float], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        14.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        6.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        12.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.6723.86 Mobile Safari/537.36",
        9.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        5.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
        4.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68",
        4.0,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/129.0.0.0 Safari/537.36",
        1.5,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Mobile/15E148 Safari/604.1",
        3.0,
    ),
    ("PulseApp/5.12.1 (iPhone15,2; iOS 18.1; Scale/3.00) Alamofire/5.9.1", 16.0),
    ("PulseApp/5.12.0 (Linux; Android 14; SM-A546B) okhttp/4.12.0", 12.0),
    ("PulseApp/5.9.3 (Linux; Android 12; Redmi Note 11) okhttp/4.10.0", 4.0),
    ("PulseTV/2.3.0 (Roku/DVP-13.0; 4K)", 2.0),
    (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36",
        1.5,
    ),
    ("PulseApp/5.12.1 (iPad13,4; iPadOS 18.1; Scale/2.00) Alamofire/5.9.1", 2.0),
)

# Automated agents: every one contains a default bot token, in mixed case.
BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.60 Safari/537.36",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Screaming Frog SEO Spider/19.8",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "site-CRAWLER/1.2 (+https://example.net/crawler)",
    "python-headless-render/3.1",
)

# Relative activity per UTC hour 0..23: a global audience peaking in the evening UTC.
HOUR_WEIGHTS: tuple[float, ...] = (
    3.0,
    2.5,
    1.9,
    1.5,
    1.2,
    1.0,
    1.1,
    1.4,
    1.8,
    2.2,
    2.6,
    3.0,
    3.4,
    3.7,
    4.0,
    4.3,
    4.7,
    5.2,
    5.8,
    6.3,
    6.1,
    5.4,
    4.5,
    3.7,
)

CURRENCIES: tuple[tuple[str, float], ...] = (("USD", 60.0), ("GBP", 20.0), ("EUR", 20.0))
