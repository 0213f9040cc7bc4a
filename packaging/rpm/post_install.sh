# syslane %post ($1: 1 on install, 2 on upgrade). Never fails the transaction:
# each step that cannot be done says so and how to do it by hand.
if getent passwd syslane >/dev/null 2>&1; then
    install -d -o syslane -g syslane -m 0750 /var/lib/syslane \
        || echo "syslane: could not create /var/lib/syslane for the user syslane" >&2
else
    install -d -m 0750 /var/lib/syslane || true
    echo "syslane: the user syslane does not exist; create it and chown it /var/lib/syslane" >&2
fi
install -d -m 0755 /etc/syslane/conf.d || true
if [ "$1" = 1 ]; then
    # First install (an erase and a reinstall are one too): tell the syslog
    # daemon that is here what to forward. Upgrades keep whatever the operator
    # chose since (syslane syslog-config).
    if [ -d /etc/rsyslog.d ] || [ -d /etc/syslog-ng/conf.d ]; then
        syslane syslog-config --all=info --install \
            || echo "syslane: could not install the syslog drop-in; run: syslane syslog-config --all=info --install" >&2
    fi
    # Enabled only if the distribution's presets say so (what %systemd_post does).
    if command -v systemctl >/dev/null 2>&1; then
        systemctl --no-reload preset syslane.service >/dev/null 2>&1 || true
    fi
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ "$1" = 1 ]; then
        if systemctl --quiet is-enabled syslane.service 2>/dev/null; then
            systemctl start syslane.service || echo "syslane: the service did not start; see: journalctl -u syslane" >&2
        else
            echo "syslane: the presets leave syslane.service disabled; start it with: systemctl enable --now syslane"
        fi
    else
        # An upgrade: the running agent continues on the new binary; the journal carries over.
        systemctl try-restart syslane.service || true
    fi
fi
exit 0
