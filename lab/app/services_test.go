package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/remote"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/services"
	"github.com/headroom/headroom/lab/store/sqlite"
)

// labBinary builds headroom-lab once for the package's services tests: the gateway starts each
// service as a process of it.
var labBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "headroom-lab-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "headroom-lab")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/headroom/headroom/cmd/headroom-lab").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build headroom-lab: %w\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := labBinary(); err == nil && strings.Contains(bin, "headroom-lab-bin-") {
		_ = os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// startServices starts a lab in the services mode with a small seed, its spans recorded.
func startServices(t *testing.T, sc app.ServicesConfig) (*app.App, *tracetest.SpanRecorder) {
	t.Helper()
	bin, err := labBinary()
	if err != nil {
		t.Fatal(err)
	}
	sc.Command = bin
	spans := tracetest.NewSpanRecorder()
	var logs bytes.Buffer
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "lab.db"),
		Seed:        seed.Config{Users: 10, PostsPerUser: 2, CommentsPerPost: 2},
		MailLatency: fast(), LogLatency: fast(), PaymentLatency: fast(),
		Services: &sc, SpanProcessors: []sdktrace.SpanProcessor{spans},
		Log: &syncBuffer{b: &logs, mu: make(chan struct{}, 1)}, LogLevel: -4,
	})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("lab logs:\n%s", logs.String())
		}
	})
	return a, spans
}

// quickCalls give up on a service within 2 s, so a test of a failing one stays short.
var quickCalls = remote.Config{Timeout: 500 * time.Millisecond, Deadline: 2 * time.Second}

type answer struct {
	code int
	body string
}

func exchange(t *testing.T, method, url, body string) answer {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

// TestServicesServeTheAPI: the gateway answers the public API from four service processes,
// each over its own database, and every call to them is a client span naming its peer.
func TestServicesServeTheAPI(t *testing.T) {
	t.Parallel()
	a, spans := startServices(t, app.ServicesConfig{})
	base := a.Info().URL
	if got := len(a.Info().Services); got != len(services.Roles) {
		t.Fatalf("%d services in Info, want %d", got, len(services.Roles))
	}
	dbs := map[string]bool{}
	for _, s := range a.Info().Services {
		dbs[s.DB] = true
		if len(s.Replicas) != 1 || len(s.PIDs) != 1 {
			t.Errorf("%s: replicas %v pids %v, want one each", s.Role, s.Replicas, s.PIDs)
		}
	}
	if len(dbs) != len(services.Roles) {
		t.Errorf("databases %v: want one per service", dbs)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/posts?limit=5", ""},
		{"GET", "/api/posts/1", ""},
		{"GET", "/api/search?q=" + seed.RareWord, ""},
		{"GET", "/api/feed", ""},
		{"POST", "/api/checkout", `{"user_id":1,"amount_cents":1999}`},
		{"POST", "/api/invites", `{"inviter_id":1,"email":"friend@example.com"}`},
		{"POST", "/api/videos", `{"owner_id":1,"title":"cats","size_bytes":1000}`},
		{"POST", "/api/login", `{"user_id":2}`},
		{"GET", "/api/users/1/summary", ""},
		{"GET", "/readyz", ""},
	} {
		if r := exchange(t, c.method, base+c.path, c.body); r.code >= 300 {
			t.Errorf("%s %s = %d %s", c.method, c.path, r.code, r.body)
		}
	}
	// A rename in accounts reaches the posts service's copy: the post's author shows it.
	var post struct {
		Post struct {
			Author struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"author"`
		} `json:"post"`
	}
	if err := json.Unmarshal([]byte(exchange(t, "GET", base+"/api/posts/1", "").body), &post); err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, "PATCH", base+"/api/account", fmt.Sprintf(`{"user_id":%d,"name":"Ada Lovelace"}`, post.Post.Author.ID)); r.code != http.StatusOK {
		t.Fatalf("rename: %d %s", r.code, r.body)
	}
	eventually(t, "the rename in the post's author", func() error {
		if b := exchange(t, "GET", base+"/api/posts/1", "").body; !strings.Contains(b, "Ada Lovelace") {
			return fmt.Errorf("GET /api/posts/1 = %.200s", b)
		}
		return nil
	})

	peers := map[string]bool{}
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "peer.service" {
				peers[kv.Value.AsString()] = true
			}
		}
	}
	for _, r := range services.Roles {
		if !peers[string(r)] {
			t.Errorf("no client span with peer.service %q among the gateway's spans (%v)", r, peers)
		}
	}
}

// TestServiceKilledMidCheckouts SIGKILLs the payments process while checkouts run. Every
// answer is the payment's outcome or a clear error naming the service (never a 500 or a hang),
// the process is started again, and its recovery pass settles every order the kill left
// pending: nothing stays half-written.
func TestServiceKilledMidCheckouts(t *testing.T) {
	t.Parallel()
	a, _ := startServices(t, app.ServicesConfig{Call: quickCalls})
	base := a.Info().URL
	var pay app.ServiceInfo
	for _, s := range a.Info().Services {
		if s.Role == services.Payments {
			pay = s
		}
	}
	codes := map[int]int{}
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 40 {
		if i == 10 {
			if err := syscall.Kill(pay.PIDs[0], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := client.Post(base+"/api/checkout", "application/json", strings.NewReader(`{"user_id":1,"amount_cents":500}`))
		if err != nil {
			t.Fatalf("checkout %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		codes[resp.StatusCode]++
		switch resp.StatusCode {
		case http.StatusCreated, http.StatusPaymentRequired:
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if !strings.Contains(string(b), "payments service") {
				t.Errorf("checkout %d: %d %s: want the error to name the payments service", i, resp.StatusCode, b)
			}
		default:
			t.Errorf("checkout %d: %d %s", i, resp.StatusCode, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("answers by status: %v", codes)
	if codes[http.StatusCreated]+codes[http.StatusPaymentRequired] == 0 {
		t.Error("no checkout succeeded")
	}

	// The payments database: once the process is back, no order stays pending.
	path := strings.TrimPrefix(pay.DB, "sqlite:")
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		pending, err := st.PendingOrders(t.Context(), time.Now(), 100)
		_ = st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orders still pending 60 s after the kill: %+v", len(pending), pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The revived process answers: a checkout succeeds again.
	deadline = time.Now().Add(60 * time.Second)
	for r := exchange(t, "POST", base+"/api/checkout", `{"user_id":1,"amount_cents":500}`); r.code != http.StatusCreated && r.code != http.StatusPaymentRequired; r = exchange(t, "POST", base+"/api/checkout", `{"user_id":1,"amount_cents":500}`) {
		if time.Now().After(deadline) {
			t.Fatalf("payments not back 60 s after the kill: %d %s", r.code, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var info app.Info
	if err := json.Unmarshal([]byte(exchange(t, "GET", base+"/admin/info", "").body), &info); err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Services {
		if s.Role == services.Payments && (len(s.PIDs) != 1 || s.PIDs[0] == pay.PIDs[0]) {
			t.Errorf("payments pids %v after the kill of %d: want one new process", s.PIDs, pay.PIDs[0])
		}
	}
}

// TestFaultInjection makes the posts service hang, then go down, through the admin API: the
// gateway answers 504 then 503 naming the service, and the endpoints that do not need posts
// keep answering (the failure does not cascade).
func TestFaultInjection(t *testing.T) {
	t.Parallel()
	a, _ := startServices(t, app.ServicesConfig{Call: quickCalls})
	base := a.Info().URL
	for _, c := range []struct {
		fault string
		code  int
	}{{`{"kind":"hang"}`, http.StatusGatewayTimeout}, {`{"kind":"down"}`, http.StatusServiceUnavailable}} {
		if r := exchange(t, "PUT", base+"/admin/services/posts/fault", c.fault); r.code != http.StatusOK {
			t.Fatalf("fault %s: %d %s", c.fault, r.code, r.body)
		}
		if r := exchange(t, "GET", base+"/api/posts/1", ""); r.code != c.code || !strings.Contains(r.body, "posts service") {
			t.Errorf("fault %s: GET /api/posts/1 = %d %s, want %d naming the posts service", c.fault, r.code, r.body, c.code)
		}
		if r := exchange(t, "POST", base+"/api/checkout", `{"user_id":1,"amount_cents":100}`); r.code != http.StatusCreated && r.code != http.StatusPaymentRequired {
			t.Errorf("fault %s on posts: checkout = %d %s, want it unaffected", c.fault, r.code, r.body)
		}
	}
	// no_timeouts (and no_breaker, which the failures above opened): the same hung service now
	// holds the request until the client gives up.
	if r := exchange(t, "PUT", base+"/admin/services/posts/fault", `{"kind":"hang"}`); r.code != http.StatusOK {
		t.Fatalf("fault hang: %d %s", r.code, r.body)
	}
	if r := exchange(t, "PUT", base+"/admin/antipatterns", `{"no_timeouts":true,"no_breaker":true}`); r.code != http.StatusOK {
		t.Fatalf("no_timeouts: %d %s", r.code, r.body)
	}
	client := &http.Client{Timeout: 4 * time.Second} // twice the gateway's 2 s deadline
	if resp, err := client.Get(base + "/api/posts/1"); err == nil {
		_ = resp.Body.Close()
		t.Errorf("no_timeouts on a hung service: answered %d, want the request held until the client's 4 s timeout", resp.StatusCode)
	}
	if r := exchange(t, "PUT", base+"/admin/antipatterns", `{"no_timeouts":false,"no_breaker":false}`); r.code != http.StatusOK {
		t.Fatalf("no_timeouts off: %d %s", r.code, r.body)
	}
	for _, bad := range []string{`{"kind":"melt"}`, `{"kind":"slow"}`, `{"kind":"slow","extra":"soon"}`, `not json`} {
		if r := exchange(t, "PUT", base+"/admin/services/posts/fault", bad); r.code != http.StatusBadRequest {
			t.Errorf("fault %s: %d %s, want 400", bad, r.code, r.body)
		}
	}
	if r := exchange(t, "PUT", base+"/admin/services/ledger/fault", `{"kind":"down"}`); r.code != http.StatusNotFound {
		t.Errorf("fault on an unknown service: %d %s, want 404", r.code, r.body)
	}
	if r := exchange(t, "PUT", base+"/admin/services/posts/fault", `{"kind":"none"}`); r.code != http.StatusOK {
		t.Fatalf("clear fault: %d %s", r.code, r.body)
	}
}

// TestRollingRestart restarts the posts service's two replicas one after the other while
// clients read posts: with retries (the default, idempotent GETs) no request fails, since a
// retry goes to the other replica; with one attempt per call the restart shows as errors.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		call    remote.Config
		wantErr bool
	}{
		{"retries", quickCalls, false},
		{"one attempt", remote.Config{Timeout: quickCalls.Timeout, Deadline: quickCalls.Deadline, MaxAttempts: 1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, _ := startServices(t, app.ServicesConfig{Replicas: map[services.Role]int{services.Posts: 2}, Call: c.call})
			base := a.Info().URL
			stop := make(chan struct{})
			var mu sync.Mutex
			codes := map[int]int{}
			var firstErr atomic.Pointer[[]byte]
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					client := &http.Client{Timeout: 10 * time.Second}
					for n := 0; n < 20000; n++ { // bounded; stopped by the restart's end
						select {
						case <-stop:
							return
						default:
						}
						code := 0
						if resp, err := client.Get(base + "/api/posts/1"); err == nil {
							b, _ := io.ReadAll(resp.Body)
							_ = resp.Body.Close()
							code = resp.StatusCode
							if code != http.StatusOK && firstErr.CompareAndSwap(nil, &b) {
								t.Logf("first failure: %d %s", code, b)
							}
						}
						mu.Lock()
						codes[code]++
						mu.Unlock()
						time.Sleep(2 * time.Millisecond)
					}
				})
			}
			r := exchange(t, "POST", base+"/admin/services/posts/restart", "")
			close(stop)
			wg.Wait()
			if r.code != http.StatusOK {
				t.Fatalf("restart: %d %s", r.code, r.body)
			}
			t.Logf("restart %s; answers by status: %v", r.body, codes)
			for _, l := range strings.Split(exchange(t, "GET", base+"/metrics", "").body, "\n") {
				if strings.HasPrefix(l, "headroom_remote_attempts_total") && strings.Contains(l, "posts") {
					t.Log(l)
				}
			}
			failed := 0
			for code, n := range codes {
				if code != http.StatusOK {
					failed += n
				}
			}
			if codes[http.StatusOK] == 0 {
				t.Fatal("no request answered during the restart")
			}
			if c.wantErr != (failed > 0) {
				t.Errorf("%d failed requests during the rolling restart, want failures: %v", failed, c.wantErr)
			}
		})
	}
}
