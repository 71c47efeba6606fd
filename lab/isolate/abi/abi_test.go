package abi_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/headroom/headroom/lab/isolate/abi"
)

var limits = abi.Limits{MaxBody: 1 << 20, MaxEdits: 256}

func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []abi.Request{
		{Phase: abi.PhaseRequest, Method: "GET", Path: "/api/me", Query: "a=1", ClientAddr: "127.0.0.1:9",
			Headers: []abi.Header{{Name: "Authorization", Value: "Bearer x"}, {Name: "Accept", Value: "*/*"}}},
		{Phase: abi.PhaseResponse, Method: "GET", Path: "/", Status: 200,
			ResponseHeaders: []abi.Header{{Name: "Content-Type", Value: "text/html"}}, Body: []byte("<html>")},
		{Phase: abi.PhaseResponse, Method: "HEAD", Path: "/", Status: 304}, // no body passed
		{Phase: abi.PhaseResponse, Method: "GET", Path: "/", Status: 204, Body: []byte{}},
	} {
		got, err := abi.DecodeRequest(abi.AppendRequest(nil, &r))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of %+v: %+v, %v", r, got, err)
		}
	}
}

var decisions = []abi.Decision{
	{Action: abi.ActionContinue},
	{Action: abi.ActionContinue, Path: "/v2/me", Pool: "b",
		RequestHeaders: []abi.HeaderEdit{{Kind: abi.EditSet, Name: "Accept-Language", Value: "fr"}, {Kind: abi.EditDel, Name: "Headroom-Region"}},
		Identity:       &abi.Identity{Sub: "42", Sid: "s-1", Exp: 1733500000}},
	{Action: abi.ActionRespond, Status: 401, Body: []byte(`{"error":"x"}`), BodySet: true,
		ResponseHeaders: []abi.HeaderEdit{{Kind: abi.EditSet, Name: "WWW-Authenticate", Value: "Bearer"}}},
	{Action: abi.ActionContinue, ResponseHeaders: []abi.HeaderEdit{{Kind: abi.EditAdd, Name: "Vary", Value: "Cookie"}},
		Body: []byte{}, BodySet: true},
}

func TestDecisionRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range decisions {
		got, err := abi.DecodeDecision(abi.AppendDecision(nil, &d), limits)
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Errorf("round trip of %+v: %+v, %v", d, got, err)
		}
	}
}

func TestDecodeDecisionRejects(t *testing.T) {
	t.Parallel()
	for name, d := range map[string]abi.Decision{
		"respond without status": {Action: abi.ActionRespond},
		"status 100":             {Action: abi.ActionRespond, Status: 100},
		"status 600":             {Action: abi.ActionRespond, Status: 600},
		"action 9":               {Action: 9},
		"header name with space": {Action: abi.ActionContinue, RequestHeaders: []abi.HeaderEdit{{Kind: abi.EditSet, Name: "X Y", Value: "1"}}},
		"header value with CRLF": {Action: abi.ActionContinue, RequestHeaders: []abi.HeaderEdit{{Kind: abi.EditSet, Name: "X", Value: "1\r\nSet-Cookie: a=b"}}},
		"edit kind 7":            {Action: abi.ActionContinue, ResponseHeaders: []abi.HeaderEdit{{Kind: 7, Name: "X"}}},
		"relative path":          {Action: abi.ActionContinue, Path: "api"},
		"path with query":        {Action: abi.ActionContinue, Path: "/a?b"},
		"pool with space":        {Action: abi.ActionContinue, Pool: "b c"},
		"identity without sub":   {Action: abi.ActionContinue, Identity: &abi.Identity{Sid: "s"}},
		"body past the limit":    {Action: abi.ActionRespond, Status: 200, Body: make([]byte, limits.MaxBody+1), BodySet: true},
	} {
		if _, err := abi.DecodeDecision(abi.AppendDecision(nil, &d), limits); !errors.Is(err, abi.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	many := abi.Decision{Action: abi.ActionContinue}
	for range limits.MaxEdits + 1 {
		many.RequestHeaders = append(many.RequestHeaders, abi.HeaderEdit{Kind: abi.EditDel, Name: "X"})
	}
	if _, err := abi.DecodeDecision(abi.AppendDecision(nil, &many), limits); !errors.Is(err, abi.ErrMalformed) {
		t.Errorf("%d edits: %v, want ErrMalformed", limits.MaxEdits+1, err)
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"version 2":      {2, 1},
		"unknown tag":    {1, 1, 99},
		"length past":    {1, 1, 2, 200, '/'},
		"bad uvarint":    {1, 2, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"truncated edit": {1, 1, 1, 1},
	} {
		if _, err := abi.DecodeDecision(b, limits); !errors.Is(err, abi.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestHostCallRoundTrips(t *testing.T) {
	t.Parallel()
	fr := abi.FetchRequest{Method: "POST", URL: "http://127.0.0.1/x", Headers: []abi.Header{{Name: "A", Value: "b"}}, Body: []byte("hi")}
	if got, err := abi.DecodeFetchRequest(abi.AppendFetchRequest(nil, &fr)); err != nil || !reflect.DeepEqual(got, fr) {
		t.Errorf("fetch request: %+v, %v", got, err)
	}
	bad := abi.FetchRequest{Method: "GET /", URL: "http://x"}
	if _, err := abi.DecodeFetchRequest(abi.AppendFetchRequest(nil, &bad)); !errors.Is(err, abi.ErrMalformed) {
		t.Errorf("method with a space: %v, want ErrMalformed", err)
	}
	resp := abi.FetchResponse{Status: 200, Headers: []abi.Header{{Name: "A", Value: "b"}}, Body: []byte("ok")}
	if got, err := abi.DecodeFetchResponse(abi.AppendFetchResponse(nil, &resp)); err != nil || !reflect.DeepEqual(got, resp) {
		t.Errorf("fetch response: %+v, %v", got, err)
	}
	jr := abi.JWTResult{Status: abi.JWTValid, Identity: abi.Identity{Sub: "1", Sid: "s", Exp: -5}, Reason: "r"}
	if got, err := abi.DecodeJWTResult(abi.AppendJWTResult(nil, &jr)); err != nil || got != jr {
		t.Errorf("jwt result: %+v, %v", got, err)
	}
}

// FuzzDecodeDecision feeds the host's decoder of guest output arbitrary bytes: it must never
// panic, and what it accepts must encode back to an equal decision.
func FuzzDecodeDecision(f *testing.F) {
	for _, d := range decisions {
		f.Add(abi.AppendDecision(nil, &d))
	}
	f.Add([]byte{1, 1, 2, 200, '/'})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := abi.DecodeDecision(b, limits)
		if err != nil {
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := abi.DecodeDecision(abi.AppendDecision(nil, &d), limits)
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("accepted %+v, re-encoded: %+v, %v", d, again, err)
		}
	})
}

// FuzzDecodeFetchRequest feeds the host's decoder of a guest's fetch arbitrary bytes.
func FuzzDecodeFetchRequest(f *testing.F) {
	f.Add(abi.AppendFetchRequest(nil, &abi.FetchRequest{Method: "GET", URL: "http://127.0.0.1/", Headers: []abi.Header{{Name: "A", Value: "b"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := abi.DecodeFetchRequest(b)
		if err != nil {
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := abi.DecodeFetchRequest(abi.AppendFetchRequest(nil, &r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("accepted %+v, re-encoded: %+v, %v", r, again, err)
		}
	})
}

// BenchmarkRequestCodec compares the ABI's encoding of a typical request (encode on the host,
// decode in the guest; here both natively) with encoding/json's: the choice of a binary format.
func BenchmarkRequestCodec(b *testing.B) {
	r := abi.Request{Phase: abi.PhaseRequest, Method: "GET", Path: "/api/me", Query: "page=2", ClientAddr: "203.0.113.7:50000",
		Headers: []abi.Header{
			{Name: "Authorization", Value: "Bearer eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInNpZCI6InMtMSIsImV4cCI6MTczMzUwMDAwMH0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"},
			{Name: "Accept", Value: "application/json"}, {Name: "Accept-Language", Value: "fr-CA,fr;q=0.9,en;q=0.8"},
			{Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0"},
			{Name: "Cookie", Value: "uid=123; prefs=theme=dark&currency=EUR"},
		}}
	b.Run("abi", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = abi.AppendRequest(buf[:0], &r)
			if _, err := abi.DecodeRequest(buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("json", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = json.Marshal(&r); err != nil {
				b.Fatal(err)
			}
			var got abi.Request
			if err := json.Unmarshal(buf, &got); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
}
