"""Settings + URLs for bench_api.py's server: the product's routes plus ONE extra, unsigned view
(`POST /bench/unsigned`) that answers v1 dataset calls for a fixed user without any
authentication — the baseline of the signed round trips. Never used outside the benchmark."""

from dashboard.settings import *

ROOT_URLCONF = "bench.bench_api_site_urls"
