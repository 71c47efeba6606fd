//go:build wasip1

// Command testguest is lab/isolate's test module: each path makes the guest do one thing the
// tests need (run into a limit, try the file system or a socket, fetch, verify a token in the
// module). The tests build it with go build; it is not shipped.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab/edge/functions/guest"
	"github.com/headroom/headroom/lab/isolate/abi"
)

func init() { guest.Handle(handle) }

func main() {}

var (
	kept    [][]byte // what /alloc allocated, kept alive
	counter uint64
)

func handle(r *abi.Request) abi.Decision {
	q := query(r.Query)
	switch r.Path {
	case "/ok":
		return guest.Continue()
	case "/alloc": // mb MiB in 1 MiB steps, kept
		n, _ := strconv.Atoi(q["mb"])
		for range n {
			kept = append(kept, make([]byte, 1<<20))
		}
		return guest.Respond(200, "text/plain", []byte("allocated "+strconv.Itoa(n)+" MiB"))
	case "/big": // one allocation of mb MiB
		n, _ := strconv.Atoi(q["mb"])
		b := make([]byte, n<<20)
		kept = append(kept, b)
		return guest.Respond(200, "text/plain", []byte("allocated "+strconv.Itoa(len(b)>>20)+" MiB at once"))
	case "/loop":
		for {
			counter++
		}
	case "/spin": // busy for ms milliseconds of wall time
		ms, _ := strconv.Atoi(q["ms"])
		for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); {
			counter++
		}
		return guest.Continue()
	case "/open":
		_, err := os.ReadFile(q["path"])
		return answer(err)
	case "/dial":
		c, err := net.Dial("tcp", q["addr"])
		if err == nil {
			c.Close()
		}
		return answer(err)
	case "/fetch":
		resp, err := guest.Fetch(&abi.FetchRequest{Method: "GET", URL: q["url"]})
		if err != nil {
			return answer(err)
		}
		return guest.Respond(resp.Status, "text/plain", resp.Body)
	case "/panic":
		panic("testguest panics on purpose")
	case "/var":
		return guest.Respond(200, "text/plain", []byte(guest.Var(q["name"], "(unbound)")))
	case "/hs256":
		return verifyHS256(r)
	}
	return guest.Error(404, "no such test path")
}

func answer(err error) abi.Decision {
	if err != nil {
		return guest.Respond(500, "text/plain", []byte("error: "+err.Error()))
	}
	return guest.Respond(200, "text/plain", []byte("ok"))
}

func query(s string) map[string]string {
	m := map[string]string{}
	vs, _ := url.ParseQuery(s)
	for k := range vs {
		m[k] = vs.Get(k)
	}
	return m
}

// verifyHS256 is the in-module alternative to the host's jwt_verify, for BenchmarkAuth…: a
// strict HS256 check with the key bound as the variable "hs256_key".
func verifyHS256(r *abi.Request) abi.Decision {
	tok := strings.TrimPrefix(r.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return guest.Error(401, "malformed")
	}
	var hdr struct{ Alg string }
	if b, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(b, &hdr) != nil || hdr.Alg != "HS256" {
		return guest.Error(401, "bad header")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	mac := hmac.New(sha256.New, []byte(guest.Var("hs256_key", "")))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return guest.Error(401, "bad signature")
	}
	var c struct {
		Sub string
		Sid string
		Exp int64
	}
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &c) != nil || c.Sub == "" {
		return guest.Error(401, "bad claims")
	}
	if guest.Now().Unix() >= c.Exp {
		return guest.Error(401, "expired")
	}
	d := guest.Continue()
	d.Identity = &abi.Identity{Sub: c.Sub, Sid: c.Sid, Exp: c.Exp}
	return d
}
