package diagnose

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestAttrsOf: the one pass over a span's attributes reads what a lookup of each name, in the
// order of its keys… list, reads: on attribute sets drawn from the names diagnose reads (each
// absent, empty or set), with other names among them.
func TestAttrsOf(t *testing.T) {
	t.Parallel()
	names := slices.Concat(keysDBSystem, keysStatement, keysHTTPMethod, keysURL, keysPeer, keysBodySize[:],
		[]string{"network.protocol.name", "rpc.service", attrURLPath, attrHTTPTarget, "rpc.system", attrServiceName,
			attrCallAttempts, attrFaaSColdStart, attrFaaSInvocationID, attrFaaSTrigger, attrFaaSExecution, attrPoolWaitTime,
			"cache.hit", "messaging.system", "http.route", "cachex", "messaging"})
	values := []string{"", "redis", "12", "-3", "x", "0"}
	lookup := func(s *Span, k string) bool { return s.Attrs[k] != "" }
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		s := &Span{Attrs: map[string]string{}}
		for range rng.IntN(8) {
			s.Attrs[names[rng.IntN(len(names))]] = values[rng.IntN(len(values))]
		}
		got := attrsOf(s)
		want := spanAttrs{dbSystem: attr(s, keysDBSystem...), method: attr(s, keysHTTPMethod...), url: attr(s, keysURL...),
			peerService: s.Attrs[attrPeerService], peer: attr(s, keysPeer...), protocol: s.Attrs["network.protocol.name"],
			rpcService: s.Attrs["rpc.service"], urlPath: s.Attrs[attrURLPath], httpTarget: s.Attrs[attrHTTPTarget],
			service: s.Attrs[attrServiceName], rpcSystem: lookup(s, "rpc.system"), logical: lookup(s, attrCallAttempts),
			faas:     lookup(s, attrFaaSColdStart) || lookup(s, attrFaaSInvocationID) || lookup(s, attrFaaSTrigger) || lookup(s, attrFaaSExecution),
			bodySize: bodySize(s), poolWait: s.Attrs[attrPoolWaitTime]}
		if want.dbSystem != "" {
			want.stmt = attr(s, keysStatement...)
		}
		for k := range s.Attrs {
			want.cache = want.cache || strings.HasPrefix(k, "cache.")
			want.messaging = want.messaging || strings.HasPrefix(k, "messaging.")
		}
		if got != want {
			t.Fatalf("attrsOf(%v) = %+v, want %+v", s.Attrs, got, want)
		}
	}
}
