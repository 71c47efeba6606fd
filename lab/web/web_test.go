package web_test

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/web"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		accept, region             string
		lang, wantRegion, currency string
		price                      string
	}{
		{"", "", "en", "US", "USD", "$ 9.99"},
		{"fr-CH, fr;q=0.9, en;q=0.8", "", "fr", "FR", "EUR", "€ 9,49"},
		{"de", "CH", "de", "CH", "CHF", "CHF 9,99"},
		{"ja,en;q=0.5", "", "ja", "JP", "JPY", "￥ 1,500"},
		{"ja", "GB", "ja", "GB", "GBP", "£ 8.49"},
		{"en-GB,en;q=0.9", "", "en", "US", "USD", "$ 9.99"},
		{"zh-TW", "", "en", "US", "USD", "$ 9.99"},
		{"es", "MX", "en", "MX", "USD", "$ 9.99"}, // MXN has no price: USD
		{"de", "not-a-region", "de", "DE", "EUR", "€ 9,49"},
		{"de", "150", "de", "DE", "EUR", "€ 9,49"}, // a UN M.49 area, not a country
		{";;;garbage", "", "en", "US", "USD", "$ 9.99"},
		{strings.Repeat("fr,", 400), "", "en", "US", "USD", "$ 9.99"}, // over-long: ignored
	} {
		l := web.Negotiate(tt.accept, tt.region)
		if l.Lang != tt.lang || l.Region != tt.wantRegion || l.Currency != tt.currency || l.Price() != tt.price {
			t.Errorf("Negotiate(%.30q, %q) = %s %s %s %q; want %s %s %s %q", tt.accept, tt.region,
				l.Lang, l.Region, l.Currency, l.Price(), tt.lang, tt.wantRegion, tt.currency, tt.price)
		}
	}
}

// FuzzNegotiate: any header values negotiate one of the page's languages and a priced currency.
func FuzzNegotiate(f *testing.F) {
	f.Add("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "CH")
	f.Add("ja", "")
	f.Add(";;;", "zz")
	f.Add("x-klingon;q=2", "AQ")
	f.Fuzz(func(t *testing.T, accept, region string) {
		l := web.Negotiate(accept, region)
		switch l.Lang {
		case "en", "fr", "de", "ja":
		default:
			t.Fatalf("language %q", l.Lang)
		}
		if l.PriceMinor <= 0 || len(l.Region) != 2 || l.Price() == "" {
			t.Fatalf("locale %+v", l)
		}
	})
}

func TestAssets(t *testing.T) {
	t.Parallel()
	a, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	as, bs := a.Assets(), b.Assets()
	if len(as) != 6 {
		t.Fatalf("%d assets, want 6: %+v", len(as), as)
	}
	for i := range as {
		if as[i].Path != bs[i].Path || as[i].ETag != bs[i].ETag || as[i].Size != bs[i].Size {
			t.Errorf("asset %s differs between two builds: %+v vs %+v", as[i].Alias, as[i], bs[i])
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.ServeStatic(w, r) {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, as := range as {
		body := get(t, srv.URL+as.Alias, nil)
		if body.code != 200 || body.header.Get("Content-Type") != as.ContentType || len(body.body) != as.Size {
			t.Errorf("GET %s: %d %s %d bytes", as.Alias, body.code, body.header.Get("Content-Type"), len(body.body))
		}
		if strings.HasSuffix(as.Alias, ".png") {
			img, err := png.Decode(bytes.NewReader(body.body))
			if err != nil || img.Bounds().Dx() < 64 {
				t.Errorf("%s: not a PNG image: %v", as.Alias, err)
			}
		}
	}
	if r := get(t, srv.URL+"/static/app.abc.js", nil); r.code != 404 {
		t.Errorf("unknown fingerprint: %d", r.code)
	}
}

type reply struct {
	code   int
	header http.Header
	body   []byte
}

func get(t *testing.T, url string, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return reply{resp.StatusCode, resp.Header, buf.Bytes()}
}

func TestHomeTemplate(t *testing.T) {
	t.Parallel()
	s, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/page/home", nil)
	req.Header.Set("Accept-Language", "de")
	posts := []lab.Post{{ID: 7, Title: `<script>alert(1)</script>`}}
	if err := s.ServeHome(rec, req, posts); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "<html lang=\"de\">") || strings.Contains(body, "<script>alert") || !strings.Contains(body, "/api/posts/7") {
		t.Errorf("page:\n%s", body)
	}
}
