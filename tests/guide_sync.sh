#!/usr/bin/env bash
# Fails unless docs/guide.md equals what scripts/render-guide makes from docs/guide.md.in and the
# examples/guide_*.cpp files, so the guide's programs are exactly the ones CI builds and runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs" "$tmp/scripts"
cp -r "$root/examples" "$tmp/"
cp "$root/docs/guide.md.in" "$tmp/docs/"
cp "$root/scripts/render-guide" "$tmp/scripts/"
"$tmp/scripts/render-guide"
if ! diff -u "$root/docs/guide.md" "$tmp/docs/guide.md"; then
  echo "guide_sync: docs/guide.md is stale; run scripts/render-guide" >&2
  exit 1
fi
echo "guide_sync: docs/guide.md matches its examples"
