#!/bin/sh
# Builds the .deb (cargo-deb) and the .rpm (rpmbuild) from the release
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

# The .rpm: rpmbuild (from Debian's or any distribution's rpm package) on a
# staged tree of the same files as the .deb (the package tests compare the two
# file lists), stripped like cargo-deb strips them.
stage=$(pwd)/target/package-stage
rm -rf "$stage"
root="$stage/root"
put() { # source, destination, mode
    install -D -m "$3" "$1" "$root/$2"
}
put target/release/syslane usr/bin/syslane 755
strip --strip-unneeded "$root/usr/bin/syslane"
for p in syslog cef select redact enrich file azure; do
    so=libsyslane_plugin_$p.so
    put "target/release/$so" "usr/lib/syslane/plugins/$so" 644
    strip --strip-unneeded "$root/usr/lib/syslane/plugins/$so"
done
put packaging/syslane.toml etc/syslane/syslane.toml 644
install -d -m 755 "$root/etc/syslane/conf.d"
install -d -m 750 "$root/var/lib/syslane"
put systemd/syslane.service usr/lib/systemd/system/syslane.service 644
put rsyslog.d/95-syslane.conf usr/share/syslane/rsyslog.d/95-syslane.conf 644
put syslog-ng.d/syslane.conf usr/share/syslane/syslog-ng.d/syslane.conf 644
put include/syslane_plugin.h usr/include/syslane/syslane_plugin.h 644
put README.md usr/share/doc/syslane/README.md 644
install -d "$root/usr/share/man/man1"
gzip -9nc packaging/syslane.1 >"$root/usr/share/man/man1/syslane.1.gz"
chmod 644 "$root/usr/share/man/man1/syslane.1.gz"
put plugins/examples/c-filter/drop_filter.c usr/share/doc/syslane/examples/drop_filter.c 644
put plugins/examples/c-output/reject_output.c usr/share/doc/syslane/examples/reject_output.c 644
put plugins/azure/deploy/azuredeploy.json usr/share/doc/syslane/azure/azuredeploy.json 644
put plugins/azure/deploy/deploy.sh usr/share/doc/syslane/azure/deploy.sh 644

# The specification with its version and scriptlets (a % in a scriptlet would
# be read as a macro: doubled).
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
spec="$stage/syslane.spec"
sed "s/@VERSION@/$version/" packaging/rpm/syslane.spec.in >"$spec"
for part in pre:pre_install preun:pre_uninstall post:post_install postun:post_uninstall; do
    printf '\n%%%s\n' "${part%%:*}" >>"$spec"
    sed 's/%/%%/g' "packaging/rpm/${part#*:}.sh" >>"$spec"
done
rpmbuild -bb --quiet \
    --define "_topdir $stage/rpmbuild" \
    --define "stage $root" \
    --define "_rpmdir $stage/rpms" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    "$spec"
cp "$stage"/rpms/*.rpm "$out/"
ls -l "$out"
