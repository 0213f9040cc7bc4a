# syslane %postun ($1: 0 on removal, 1 on upgrade). RPM has no purge: the journal
# in /var/lib/syslane and /etc/syslane stay until removed by hand. An edited
# /etc/syslane/syslane.toml is saved by rpm as syslane.toml.rpmsave.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if [ "$1" = 0 ]; then
    if [ -e /etc/syslane/syslane.toml.rpmsave ]; then
        echo "syslane: your edited configuration was saved as /etc/syslane/syslane.toml.rpmsave (rpm does so on erase); after installing syslane again, move it back: mv /etc/syslane/syslane.toml.rpmsave /etc/syslane/syslane.toml"
    fi
    held=0
    for qi in /var/spool/rsyslog/syslane*.qi; do
        [ -e "$qi" ] || continue
        c=$(sed -n 's/^+iQueueSize:2:[0-9]*:\([0-9]*\):$/\1/p' "$qi" | head -n 1)
        held=$((held + ${c:-0}))
    done
    if ls /var/spool/rsyslog/syslane* >/dev/null 2>&1; then
        echo "syslane: rsyslog saved $held messages for syslane in /var/spool/rsyslog/syslane*; it delivers them when syslane is installed again, or delete them: rm -f /var/spool/rsyslog/syslane*"
    fi
    echo "syslane: /var/lib/syslane (the journal: records not yet delivered) and /etc/syslane stay; remove them by hand when no longer needed"
fi
exit 0
