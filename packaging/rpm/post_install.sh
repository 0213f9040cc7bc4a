# syslane %post ($1: 1 on install, 2 on upgrade)
if ! getent passwd syslane >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/syslane --no-create-home \
        --shell /sbin/nologin --comment "syslane syslog collector" syslane
fi
install -d -o syslane -g syslane -m 0750 /var/lib/syslane
install -d -m 0755 /etc/syslane/conf.d
if [ "$1" = 1 ]; then
    # First install: tell the syslog daemon that is here what to forward. Upgrades
    # keep whatever the operator chose since (syslane syslog-config).
    if [ -d /etc/rsyslog.d ] || [ -d /etc/syslog-ng/conf.d ]; then
        syslane syslog-config --all=info --install \
            || echo "syslane: could not install the syslog drop-in; run: syslane syslog-config --all=info --install" >&2
    fi
    if command -v systemctl >/dev/null 2>&1; then
        systemctl enable syslane.service >/dev/null 2>&1 || true
    fi
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$1" = 1 ]; then
        systemctl start syslane.service || echo "syslane: the service did not start; see: journalctl -u syslane" >&2
    else
        # An upgrade: the running agent continues on the new binary; the journal carries over.
        systemctl try-restart syslane.service || true
    fi
fi
