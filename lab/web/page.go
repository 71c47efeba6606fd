package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/headroom/headroom/lab"
)

// RegionHeader names the client's region (ISO 3166-1 alpha-2, e.g. "FR"); an edge sets it from
// where the client connects. It chooses the currency of the page's prices.
const RegionHeader = "Headroom-Region"

// PageVary is the home page's Vary: a cache keeps one copy per language and region.
const PageVary = "Accept-Language, " + RegionHeader

// Languages are the page's languages, the first the default.
var Languages = []language.Tag{language.English, language.French, language.German, language.Japanese}

var matcher = language.NewMatcher(Languages)

// defaultRegions are the regions assumed for each language when the request names none.
var defaultRegions = map[string]string{"en": "US", "fr": "FR", "de": "DE", "ja": "JP"}

// prices are the plan's monthly price in minor units per currency; other currencies show USD.
var prices = map[currency.Unit]int64{
	currency.USD: 999, currency.EUR: 949, currency.GBP: 849, currency.CHF: 999, currency.CAD: 1299, currency.JPY: 1500,
}

// maxAcceptLanguage bounds the Accept-Language header parsed; a longer one counts as absent.
const maxAcceptLanguage = 1024

// Locale is a negotiated language and region.
type Locale struct {
	Lang     string // one of Languages, as its BCP 47 base: "en", "fr", "de", "ja"
	Region   string // ISO 3166-1 alpha-2
	Currency string // ISO 4217 code of the prices
	// PriceMinor is the plan's price in the currency's minor units (cents; yen for JPY).
	PriceMinor int64
	tag        language.Tag
	unit       currency.Unit
}

// Negotiate chooses the page's language from an Accept-Language value (x/text/language's
// matcher over [Languages]; none, a malformed or an over-long value: English) and its region from
// a Headroom-Region value (a country code; none or an unknown one: the language's usual region,
// en→US, fr→FR, de→DE, ja→JP), and from the region the currency (one the price list has, else USD).
func Negotiate(acceptLanguage, region string) Locale {
	var tags []language.Tag
	if len(acceptLanguage) <= maxAcceptLanguage {
		tags, _, _ = language.ParseAcceptLanguage(acceptLanguage)
	}
	_, i, _ := matcher.Match(tags...)
	tag := Languages[i]
	base, _ := tag.Base()
	l := Locale{Lang: base.String(), tag: tag}
	l.Region = defaultRegions[l.Lang]
	if r, err := language.ParseRegion(region); err == nil && r.IsCountry() && len(region) == 2 {
		l.Region = r.String()
	}
	l.unit = currency.USD
	if r, err := language.ParseRegion(l.Region); err == nil {
		if u, ok := currency.FromRegion(r); ok {
			if _, priced := prices[u]; priced {
				l.unit = u
			}
		}
	}
	l.Currency, l.PriceMinor = l.unit.String(), prices[l.unit]
	return l
}

// Price formats the plan's price for the locale's language, e.g. "€ 9,49" in French.
func (l Locale) Price() string {
	amount := float64(l.PriceMinor) / 100
	if l.unit == currency.JPY {
		amount = float64(l.PriceMinor)
	}
	return message.NewPrinter(l.tag).Sprint(currency.Symbol(l.unit.Amount(amount)))
}

// homeData is what the page template renders.
type homeData struct {
	Locale
	Price                     string
	T                         texts
	JS, CSS, Hero, Card, Icon string
	Posts                     []lab.Post
}

// ServeHome answers GET and HEAD /page/home: the page in the language and currency that r's
// Accept-Language and Headroom-Region negotiate ([Negotiate]), listing posts (the newest, read
// by the caller), with Vary, Content-Language, [PageCacheControl] and a strong ETag of the bytes;
// 304 to a matching If-None-Match. The page is rendered on every request, as an origin does; a
// cache in front saves that.
func (s *Site) ServeHome(w http.ResponseWriter, r *http.Request, posts []lab.Post) error {
	l := Negotiate(r.Header.Get("Accept-Language"), r.Header.Get(RegionHeader))
	var buf bytes.Buffer
	err := s.page.Execute(&buf, homeData{
		Locale: l, Price: l.Price(), T: translations[l.Lang],
		JS: s.js, CSS: s.css, Hero: s.hero, Card: s.card, Icon: s.icon, Posts: posts,
	})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	h := w.Header()
	h.Set("Vary", PageVary)
	h.Set("Content-Language", l.Lang)
	h.Set("Cache-Control", PageCacheControl)
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No Last-Modified: the page changes with the posts, so only its ETag validates it.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
	return nil
}
