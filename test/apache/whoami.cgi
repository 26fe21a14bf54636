#!/bin/sh
# Behind <Location /protected>: reports what mod_auth_openidc told the application about the
# signed-in user, as key=value lines (REMOTE_USER, AUTH_TYPE and every OIDC_* variable).
printf 'Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n\r\n'
printf 'AUTH_TYPE=%s\n' "$AUTH_TYPE"
printf 'REMOTE_USER=%s\n' "$REMOTE_USER"
printf 'PATH_INFO=%s\n' "$PATH_INFO"
env | grep -E '^OIDC_' | sort
