#!/bin/sh
# Builds the .deb (cargo-deb) and the .rpm (cargo-generate-rpm) from the release
# build into DIR (default target/packages). Run after
#   cargo build --release --workspace
# Both packages carry stripped binaries; the release build keeps its line tables
# for profiling.
set -eu
cd "$(dirname "$0")/.."
out=${1:-target/packages}
mkdir -p "$out"

for f in syslane libsyslane_plugin_syslog.so libsyslane_plugin_cef.so \
    libsyslane_plugin_select.so libsyslane_plugin_redact.so libsyslane_plugin_enrich.so \
    libsyslane_plugin_file.so libsyslane_plugin_azure.so; do
    [ -f "target/release/$f" ] || {
        echo "target/release/$f is missing: run cargo build --release --workspace first" >&2
        exit 1
    }
done

cargo deb -p syslane --no-build --strip --output "$out"

# cargo-generate-rpm packs files as they are: give it stripped copies.
stage=target/package-stage
rm -rf "$stage"
mkdir -p "$stage"
for f in syslane libsyslane_plugin_syslog.so libsyslane_plugin_cef.so \
    libsyslane_plugin_select.so libsyslane_plugin_redact.so libsyslane_plugin_enrich.so \
    libsyslane_plugin_file.so libsyslane_plugin_azure.so; do
    strip --strip-unneeded -o "$stage/$f" "target/release/$f"
done
cargo generate-rpm -p core/runtime -o "$out"
ls -l "$out"
