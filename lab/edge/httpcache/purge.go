package httpcache

import (
	"fmt"
	"net/url"
	"strings"
)

// Purge removes every stored variant of one URI and returns how many responses it removed.
// rawURL is absolute ("http://host/path?q": that host only) or a path with its query ("/path?q":
// on every host). A request already fetching the URI may store its response after the purge.
func (c *Cache) Purge(rawURL string) (int, error) {
	u, err := parsePurgeURL(rawURL)
	if err != nil {
		return 0, err
	}
	if u.Host != "" {
		v, ok := c.store.Invalidate(keyOf(u))
		if !ok {
			return 0, nil
		}
		return len(v.entries), nil
	}
	target := u.RequestURI()
	return c.purgeWhere(func(key string) bool { return pathOf(key) == target }), nil
}

// PurgePrefix removes the stored responses of every URI that starts with prefix, absolute
// ("http://host/static/": that host only) or a path ("/static/": on every host), and returns how
// many it removed. It walks the whole store.
func (c *Cache) PurgePrefix(prefix string) (int, error) {
	u, err := parsePurgeURL(prefix)
	if err != nil {
		return 0, err
	}
	if u.Host != "" {
		p := keyOf(u)
		return c.purgeWhere(func(key string) bool { return strings.HasPrefix(key, p) }), nil
	}
	p := u.RequestURI()
	return c.purgeWhere(func(key string) bool { return strings.HasPrefix(pathOf(key), p) }), nil
}

// PurgeAll empties the cache and returns how many responses it removed.
func (c *Cache) PurgeAll() int {
	n := int(c.entries.Load())
	c.store.InvalidateAll()
	return n
}

func (c *Cache) purgeWhere(match func(key string) bool) int {
	var keys []string
	for k := range c.store.Keys() {
		if match(k) {
			keys = append(keys, k)
		}
	}
	n := 0
	for _, k := range keys {
		if v, ok := c.store.Invalidate(k); ok {
			n += len(v.entries)
		}
	}
	return n
}

// pathOf is the request URI part of a primary key (host + request URI).
func pathOf(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[i:]
	}
	return key
}

func parsePurgeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("httpcache: purge %q: %w", raw, err)
	}
	if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		return nil, fmt.Errorf("httpcache: purge %q: want an absolute URL (http://host/path) or a path starting with /", raw)
	}
	return u, nil
}
