# syslane %pre ($1: 1 on install, 2 on upgrade): the service user exists before
# the files are laid down, as Fedora's packaging guidelines ask (Users and
# Groups: "soft static allocation", created in %pre). Never fails the install: a
# root without useradd gets a warning and the command to run.
if ! getent passwd syslane >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/syslane --no-create-home \
            --shell /sbin/nologin --comment "syslane syslog collector" syslane \
            || echo "syslane: could not create the user syslane; create it: useradd --system --user-group --home-dir /var/lib/syslane --shell /sbin/nologin syslane" >&2
    else
        echo "syslane: useradd is missing here; create the user syslane before starting the service" >&2
    fi
fi
exit 0
