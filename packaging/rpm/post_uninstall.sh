# syslane %postun ($1: 0 on removal, 1 on upgrade). RPM has no purge: the journal
# in /var/lib/syslane and /etc/syslane stay until removed by hand.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
