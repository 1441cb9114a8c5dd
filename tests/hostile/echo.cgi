#!/bin/sh
# what of the browser's request reached the app
printf 'Content-Type: text/plain\r\nCache-Control: no-store\r\n\r\n'
printf 'cookie=%s\n' "${HTTP_COOKIE:-}"
printf 'authorization=%s\n' "${HTTP_AUTHORIZATION:-}"
printf 'x-xsrftoken=%s\n' "${HTTP_X_XSRFTOKEN:-}"
printf 'referer=%s\n' "${HTTP_REFERER:-}"
