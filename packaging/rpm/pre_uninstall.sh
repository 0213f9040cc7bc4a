# syslane %preun ($1: 0 on removal, 1 on upgrade). On removal: the syslog drop-in
# goes first (so the daemon stops forwarding to a port about to close), then the
# service stops. What was not delivered stays in the journal.
if [ "$1" = 0 ]; then
    for daemon in rsyslog syslog-ng; do
        syslane syslog-config --remove --daemon "$daemon" || true
    done
    if command -v systemctl >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            systemctl stop syslane.service || true
        fi
        systemctl disable syslane.service >/dev/null 2>&1 || true
    fi
fi
exit 0
