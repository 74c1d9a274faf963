package control

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tend-sh/tend/supervisor"
)

// The cross-site guard. A browser that holds the door's basic-auth
// credentials (anyone who opened the web page has them cached) sends them
// with any request a page on another site makes. Such a page may send, with
// no CORS preflight, a POST whose content type is text/plain,
// application/x-www-form-urlencoded or multipart/form-data, or none at all.
// tend never grants a preflight, so it is enough to refuse
//
//   - any request that is not GET or HEAD whose Origin is not the door's own
//     (Origin "null", sent by sandboxed frames and file: pages, included),
//     or whose Sec-Fetch-Site is "cross-site" or "same-site";
//   - a body-carrying request to /RPC2 that is not text/xml (what
//     supervisorctl and Python's xmlrpc.client send) or application/xml,
//     and one to /v1/ that is not application/json (what the tend client
//     sends). Neither type can be sent cross-site without a preflight, so
//     this holds even for a browser that sends no Origin;
//   - a GET or HEAD that a page on another site makes as a subresource
//     (Sec-Fetch-Site cross-site or same-site, Sec-Fetch-Mode not navigate):
//     no GET changes state, but this keeps other sites from holding follow
//     streams open against the connection cap or timing the replies.
//     Following a link to the page from elsewhere is a navigation and stays
//     allowed.
//
// Sec-Fetch-Site "same-site" is refused like "cross-site": it also covers
// another port of the same host (a dev server on localhost:3000 is
// same-site with tend on localhost:9001) and other subdomains, and the page
// itself only ever makes same-origin requests. "none" (a request the user
// made by typing or bookmarking, or by reloading a page after a POST) is
// allowed: no other site caused it. A request without Origin and
// Sec-Fetch-Site comes from a non-browser client (supervisorctl, curl, the
// tend CLI) or an old browser; the content-type rule covers the latter.
//
// Every response also forbids framing (X-Frame-Options, CSP
// frame-ancestors), so no other site can overlay the page's buttons, and
// sniffing (X-Content-Type-Options).
//
// Behind a reverse proxy the Origin is compared with the Host the proxy
// passes on, so the proxy must pass the client's Host through (nginx:
// proxy_set_header Host $host).

// guard applies the cross-site rules to r. It returns false after writing a
// refusal (403, or 415 for a wrong content type), true to go on.
func guard(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	if reason := crossSite(r); reason != "" {
		refuse(w, r, http.StatusForbidden, "forbidden: "+reason+
			"; tend refuses requests made by pages on other sites")
		return false
	}
	if reason := wrongContentType(r); reason != "" {
		refuse(w, r, http.StatusUnsupportedMediaType, reason)
		return false
	}
	return true
}

// safeMethod reports whether m is a method that never changes state.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// crossSite returns why r comes from another site, or "" when it does not.
func crossSite(r *http.Request) string {
	site := strings.ToLower(r.Header.Get("Sec-Fetch-Site"))
	foreign := site == "cross-site" || site == "same-site"
	if safeMethod(r.Method) {
		if foreign && !strings.EqualFold(r.Header.Get("Sec-Fetch-Mode"), "navigate") {
			return "Sec-Fetch-Site: " + site + " for a " + r.Method + " that is not a navigation"
		}
		return ""
	}
	if foreign {
		return "Sec-Fetch-Site: " + site
	}
	if origin, ok := r.Header["Origin"]; ok && (len(origin) != 1 || !originMatches(origin[0], r.Host)) {
		return "Origin " + strings.Join(origin, ", ") + " does not match Host " + r.Host
	}
	return ""
}

// originMatches reports whether src, an Origin header or a Referer URL, names
// host (a Host header). Ports are compared after filling in the default
// port of src's scheme, so "http://h" matches "h" and "h:80".
func originMatches(src, host string) bool {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // includes "null"
	}
	def := "80"
	if u.Scheme == "https" {
		def = "443"
	}
	srcHost, srcPort := splitHostPort(u.Host, def)
	reqHost, reqPort := splitHostPort(host, def)
	return reqHost != "" && strings.EqualFold(srcHost, reqHost) && srcPort == reqPort
}

// splitHostPort splits "host[:port]" (IPv6 in brackets), using def when
// there is no port.
func splitHostPort(hostport, def string) (string, string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		if p == "" {
			p = def
		}
		return h, p
	}
	return strings.Trim(hostport, "[]"), def
}

// wrongContentType returns why r's content type is refused, or "".
func wrongContentType(r *http.Request) string {
	if safeMethod(r.Method) {
		return ""
	}
	var want []string
	switch {
	case r.URL.Path == "/RPC2":
		want = []string{"text/xml", "application/xml"}
	case strings.HasPrefix(r.URL.Path, APIPrefix):
		want = []string{"application/json"}
	default:
		return "" // the page's actions carry a CSRF token; anything else is 404/405
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	for _, t := range want {
		if err == nil && mt == t {
			return ""
		}
	}
	if ct == "" {
		ct = "none"
	}
	return "unsupported content type " + ct + " for " + r.Method + " " + r.URL.Path +
		": send Content-Type: " + strings.Join(want, " or ")
}

// refuse answers a refused request in the shape its door's client reads:
// a JSON ErrorReply on /v1/ (the tend client prints the message), the
// page's {"ok":false,"message":...} on /ui/ (the page shows it), plain
// text elsewhere. The connection is closed, since the body was not read.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Connection", "close")
	switch {
	case strings.HasPrefix(r.URL.Path, APIPrefix):
		writeError(w, status, &APIError{Code: int(supervisor.FaultFailed), Name: supervisor.FaultFailed.String(), Message: msg})
	case strings.HasPrefix(r.URL.Path, "/ui/"):
		webJSON(w, status, false, msg)
	default:
		http.Error(w, msg, status)
	}
}
