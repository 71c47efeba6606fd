package doctor

import (
	"reflect"
	"testing"

	"github.com/headroom/headroom/result"
)

// TestTakeBreakdowns: diagnose's services breakdown reaches the report as it is, and stays absent
// when the traces crossed no services.
func TestTakeBreakdowns(t *testing.T) {
	t.Parallel()
	svcs := []result.ServiceBreakdown{{Endpoint: "GET /api/feed", Requests: 20,
		Services: []result.ServiceTime{{Service: "headroom-gateway", MeanMS: 1.2, Self: result.TierTime{Requests: 20, P50MS: 1.1, P99MS: 2}}},
		Hops: []result.HopTime{{Caller: "headroom-gateway", Peer: "posts", Calls: 40, CallsPerRequest: 2, Errors: 1,
			Call: result.CallTime{Calls: 40, P50MS: 6, P99MS: 9, MeanMS: 6.5}, Network: result.CallTime{Calls: 40, P50MS: 2, P99MS: 2.4, MeanMS: 2.1}}}}}
	edge := []result.EdgeBreakdown{{Endpoint: "edge GET /page/home", Requests: 5}}
	f := &result.Findings{
		Endpoints: []result.EndpointProfile{{Endpoint: "GET /api/feed", Count: 20, MeanMS: 12, SelfTimeMS: map[string]float64{"db": 3, "http": 7}}},
		Edge:      edge, Services: svcs,
	}
	var rep result.Doctor
	takeBreakdowns(&rep, f)
	if !reflect.DeepEqual(rep.Services, svcs) || !reflect.DeepEqual(rep.Edge, edge) {
		t.Errorf("services %+v, edge %+v: want diagnose's", rep.Services, rep.Edge)
	}
	if len(rep.Breakdown) != 1 || rep.Breakdown[0].Parts[0].Name != "http" {
		t.Errorf("breakdown %+v: want GET /api/feed's, http first", rep.Breakdown)
	}

	var none result.Doctor
	takeBreakdowns(&none, &result.Findings{})
	if none.Services != nil || none.Edge != nil {
		t.Errorf("without services or edge: %+v, %+v", none.Services, none.Edge)
	}
}
