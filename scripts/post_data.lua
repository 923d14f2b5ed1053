-- One small JSON body, sent again and again: after the first request every
-- request is a disk hit.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user":42,"items":["a","b"]}'
