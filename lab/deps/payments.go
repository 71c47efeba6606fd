package deps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// PaymentProviderConfig configures [StartPaymentProvider].
type PaymentProviderConfig struct {
	// Addr is the listen address. Default 127.0.0.1:0.
	Addr string
	// Latency of each charge. The lab's default is the notes' case "99 % ≈ 50 ms, 1 % ≈ 5 s"
	// (50ms,1%:5s); the zero value here is no delay.
	Latency Latency
	// Seed seeds the latency sampler. Default 1.
	Seed uint64
}

// PaymentProvider is a card processor: POST /v1/charges {"order_id":1,"amount_cents":100} answers
// 200 {"id":"ch_1","status":"succeeded"} after its latency, or 400 for a non-positive amount. It is
// safe for concurrent use.
type PaymentProvider struct {
	*httpService
	lat     *sampler
	charges atomic.Int64
}

// StartPaymentProvider starts a provider on cfg.Addr; ctx bounds only the start.
func StartPaymentProvider(ctx context.Context, cfg PaymentProviderConfig) (*PaymentProvider, error) {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	p := &PaymentProvider{lat: newSampler(cfg.Latency, cfg.Seed)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/charges", p.handle)
	s, err := startHTTP(ctx, "payment provider", cfg.Addr, mux)
	if err != nil {
		return nil, err
	}
	p.httpService = s
	return p, nil
}

// Charges returns the number of successful charges.
func (p *PaymentProvider) Charges() int64 { return p.charges.Load() }

type chargeRequest struct {
	OrderID     int64 `json:"order_id"`
	AmountCents int64 `json:"amount_cents"`
}

// Charge is the provider's answer to a charge.
type Charge struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (p *PaymentProvider) handle(w http.ResponseWriter, r *http.Request) {
	var req chargeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed charge: " + err.Error()})
		return
	}
	if req.AmountCents <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "amount_cents must be positive"})
		return
	}
	if !wait(r.Context(), p.stop, p.lat.next()) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "interrupted"})
		return
	}
	n := p.charges.Add(1)
	writeJSON(w, http.StatusOK, Charge{ID: "ch_" + strconv.FormatInt(n, 10), Status: "succeeded"})
}

// PaymentClientConfig configures [NewPaymentClient].
type PaymentClientConfig struct {
	// URL is the provider's base URL. Required.
	URL string
	// HTTPClient makes the calls; give it an instrumented transport for client spans.
	// Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one charge when HTTPClient is nil. Default 30s (above the 5 s tail).
	Timeout time.Duration
}

// PaymentClient charges orders at a payment provider. It is safe for concurrent use.
type PaymentClient struct {
	url string
	hc  *http.Client
}

// NewPaymentClient returns a client for cfg.
func NewPaymentClient(cfg PaymentClientConfig) (*PaymentClient, error) {
	if cfg.URL == "" {
		return nil, errors.New("payment client: empty provider URL")
	}
	if cfg.HTTPClient == nil {
		if cfg.Timeout <= 0 {
			cfg.Timeout = 30 * time.Second
		}
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	return &PaymentClient{url: cfg.URL, hc: cfg.HTTPClient}, nil
}

// ErrPaymentDeclined is returned (wrapped) when the provider refuses a charge.
var ErrPaymentDeclined = errors.New("payment declined")

// Charge charges amountCents for orderID.
func (c *PaymentClient) Charge(ctx context.Context, orderID, amountCents int64) (Charge, error) {
	body, _ := json.Marshal(chargeRequest{OrderID: orderID, AmountCents: amountCents})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/charges", bytes.NewReader(body))
	if err != nil {
		return Charge{}, fmt.Errorf("payment: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	// A charge repeated for the same order (the lab's recovery after a crash) carries the same
	// key, so a provider that deduplicates does not charge twice.
	req.Header.Set("Idempotency-Key", "order-"+strconv.FormatInt(orderID, 10))
	resp, err := c.hc.Do(req)
	if err != nil {
		return Charge{}, fmt.Errorf("payment: charge order %d: %w", orderID, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return Charge{}, fmt.Errorf("payment: charge order %d: %w: %s", orderID, ErrPaymentDeclined, bytes.TrimSpace(b))
	default:
		return Charge{}, fmt.Errorf("payment: charge order %d: provider answered %s", orderID, resp.Status)
	}
	var ch Charge
	if err := json.Unmarshal(b, &ch); err != nil {
		return Charge{}, fmt.Errorf("payment: charge order %d: decode answer: %w", orderID, err)
	}
	return ch, nil
}
