package app_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
)

// natsServer starts a JetStream server on port (0: a free one) storing in dir.
func natsServer(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// TestBrokerDownDuringInviteBurst: the broker goes away, a burst of invites arrives; the API
// keeps answering (the jobs wait in the outbox), and once the broker is back every email goes
// out, each once.
func TestBrokerDownDuringInviteBurst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := natsServer(t, 0, dir)
	port := ns.Addr().(*net.TCPAddr).Port
	ms := mailServer(t, "0s")
	a, _ := startRecorded(t, app.Config{SMTPAddr: ms.Addr(), Queue: ns.ClientURL()})
	url := a.Info().URL

	// The queue works before the outage.
	if code := send(t, "POST", url+"/api/invites", `{"inviter_id":1,"email":"before@example.com"}`, nil); code != http.StatusAccepted {
		t.Fatalf("invite before the outage = %d", code)
	}
	eventually(t, "first email", func() error {
		if ms.Delivered() != 1 {
			return fmt.Errorf("%d delivered", ms.Delivered())
		}
		return nil
	})

	ns.Shutdown()
	ns.WaitForShutdown()
	const burst = 30
	for i := range burst {
		var inv lab.Invite
		code := send(t, "POST", url+"/api/invites", fmt.Sprintf(`{"inviter_id":%d,"email":"u%d@example.com"}`, 1+i%5, i), &inv)
		if code != http.StatusAccepted || inv.ID == 0 {
			t.Fatalf("invite %d during the outage = %d %+v, want 202 (the API must keep accepting)", i, code, inv)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if d := ms.Delivered(); d != 1 {
		t.Fatalf("%d emails delivered with the broker down, want still 1", d)
	}
	var jv struct {
		Outbox struct {
			Pending int64 `json:"pending"`
		} `json:"outbox"`
	}
	if code := send(t, "GET", url+"/admin/jobs", "", &jv); code != 200 || jv.Outbox.Pending < 1 {
		t.Errorf("GET /admin/jobs during the outage = %d, outbox %+v; want the burst waiting in the outbox", code, jv.Outbox)
	}

	natsServer(t, port, dir) // back, same port and storage
	eventually(t, "all emails after the broker returns", func() error {
		if d := ms.Delivered(); d != burst+1 {
			return fmt.Errorf("%d of %d delivered", d, burst+1)
		}
		return nil
	})
	got := map[string]int{}
	for _, m := range ms.Messages() {
		got[m.To[0]]++
	}
	for i := range burst {
		if to := "u" + strconv.Itoa(i) + "@example.com"; got[to] != 1 {
			t.Errorf("%s got %d emails, want 1", to, got[to])
		}
	}
	// The relay marks a row sent on the broker's ack, which can come after its email went out.
	eventually(t, "outbox drained after recovery", func() error {
		if code := send(t, "GET", url+"/admin/jobs", "", &jv); code != 200 || jv.Outbox.Pending != 0 {
			return fmt.Errorf("GET /admin/jobs = %d, outbox %+v", code, jv.Outbox)
		}
		return nil
	})
}
