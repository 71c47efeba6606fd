package rabbitq

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// management reads a queue's unacknowledged count from RabbitMQ's management plugin (its HTTP
// API): AMQP's queue.declare-ok carries only the ready count, so without the plugin an engine
// knows only its own unsettled deliveries, not those of workers in other processes.
type management struct {
	base       string // scheme://host:port, no credentials
	user, pass string
	vhost      string
	client     *http.Client

	mu        sync.Mutex
	failed    error     // the last failure to reach the API
	failedEnd time.Time // until then, failed is returned without a request
}

// retryAfter is how long the API is left alone after it could not be reached, so that stats
// on a broker without the plugin do not each wait for a connection attempt.
const retryAfter = 30 * time.Second

// ManagementOff, as [Config.ManagementURL], reads no counts from the management plugin.
const ManagementOff = "off"

// newManagement returns the client of the management API at mgmtURL, or, when mgmtURL is empty,
// at port 15672 of the broker's host with the AMQP URL's credentials (the plugin's default).
func newManagement(amqpURL, mgmtURL string) (*management, error) {
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return nil, err
	}
	m := &management{user: uri.Username, pass: uri.Password, vhost: uri.Vhost, client: &http.Client{Timeout: 2 * time.Second}}
	if mgmtURL == "" {
		m.base = "http://" + net.JoinHostPort(uri.Host, "15672")
		return m, nil
	}
	u, err := url.Parse(mgmtURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rabbitmq management URL %q: want http://[user:pass@]host:port, or %q", mgmtURL, ManagementOff)
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	m.base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	return m, nil
}

// unacked returns how many of queue's messages are delivered and not yet settled, over every
// consumer, as of the plugin's last statistics sample (every 5 s by default).
func (m *management) unacked(ctx context.Context, queue string) (int64, error) {
	m.mu.Lock()
	failed := m.failed
	if time.Now().After(m.failedEnd) {
		failed = nil
	}
	m.mu.Unlock()
	if failed != nil {
		return 0, failed
	}
	// The whole queue object: with ?columns= the API answers [] until the queue's first
	// statistics sample, which would read as a malformed answer.
	u := m.base + "/api/queues/" + url.PathEscape(m.vhost) + "/" + url.PathEscape(queue)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(m.user, m.pass)
	resp, err := m.client.Do(req)
	if err != nil {
		err = fmt.Errorf("management API: %w", err)
		if ctx.Err() == nil {
			m.mu.Lock()
			m.failed, m.failedEnd = err, time.Now().Add(retryAfter)
			m.mu.Unlock()
		}
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("management API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("management API: GET %s: %s", m.base+"/api/queues/…/"+queue, resp.Status)
	}
	var q struct {
		Unacked *int64 `json:"messages_unacknowledged"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		return 0, fmt.Errorf("management API: %w", err)
	}
	if q.Unacked == nil {
		return 0, fmt.Errorf("management API: no statistics for %s yet", queue)
	}
	return *q.Unacked, nil
}
