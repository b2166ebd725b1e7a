"""The headers every HTML answer carries (the pages and the API's rendered README)."""

SECURITY_HEADERS = {
    # No script at all, styles and forms only from here; README images may come from anywhere.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src * data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
