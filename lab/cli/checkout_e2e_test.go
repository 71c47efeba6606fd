package cli

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
)

// startLabProc starts `headroom-lab` as a child process on db and returns it with its URL.
func startLabProc(t *testing.T, bin, db string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--db", "sqlite:" + db, "--log-level", "error",
		"--seed-users", "5", "--seed-posts-per-user", "1", "--mail-latency", "0", "--log-latency", "0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	url := ""
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "headroom lab listening on "); ok {
			url = u
			break
		}
	}
	if url == "" {
		t.Fatal("the lab did not print its URL")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return cmd, url
}

// orderStatuses counts the orders of the lab's SQLite file by status.
func orderStatuses(t *testing.T, db string) map[string]int {
	t.Helper()
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(t.Context(), `SELECT status, COUNT(*) FROM orders GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		out[status] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKillLabMidCheckout: kill -9 while checkouts wait on the payment provider leaves their
// orders pending; the next start of the lab on the same database settles every one of them,
// paid or failed (issue 19 item 10).
func TestKillLabMidCheckout(t *testing.T) {
	t.Parallel()
	bin := buildLab(t)
	db := filepath.Join(t.TempDir(), "lab.db")
	const checkouts = 8
	proc, url := startLabProc(t, bin, db, "--payment-latency", "30s")
	for i := range checkouts {
		go func() {
			body := strings.NewReader(fmt.Sprintf(`{"user_id": %d, "amount_cents": 1999}`, i%5+1))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/api/checkout", body)
			if err != nil {
				return
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}()
	}
	// Every order row is written before its charge, which takes 30 s: kill the lab once all are.
	deadline := time.Now().Add(20 * time.Second)
	for orderStatuses(t, db)[lab.OrderPending] < checkouts {
		if time.Now().After(deadline) {
			t.Fatalf("orders after 20 s: %v, want %d pending", orderStatuses(t, db), checkouts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	if got := orderStatuses(t, db); got[lab.OrderPending] != checkouts {
		t.Fatalf("after kill -9: %v, want %d pending", got, checkouts)
	}

	startLabProc(t, bin, db, "--payment-latency", "0")
	deadline = time.Now().Add(20 * time.Second)
	for orderStatuses(t, db)[lab.OrderPending] > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("20 s after the restart: %v, want no order pending", orderStatuses(t, db))
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := orderStatuses(t, db)
	if got[lab.OrderPaid]+got[lab.OrderFailed] != checkouts {
		t.Errorf("after the restart: %v, want all %d orders paid or failed", got, checkouts)
	}
}
