package collect

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor exporters use
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// grpcServer is the OTLP/gRPC TraceService.
type grpcServer struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

func newGRPCServer(r *Receiver) *grpc.Server {
	// gRPC enforces the receive limit on the decompressed message too.
	s := grpc.NewServer(grpc.MaxRecvMsgSize(int(r.cfg.MaxRequestBytes)))
	ptraceotlp.RegisterGRPCServer(s, &grpcServer{r: r})
	return s
}

// Export queues the request's spans for assembly. Overload is RESOURCE_EXHAUSTED with
// RetryInfo (which OTLP exporters retry after the given delay), shutdown is UNAVAILABLE, and
// invalid spans are reported as partial success.
func (g *grpcServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	c, err := g.r.ingest(req.Traces())
	switch {
	case err == nil:
	case errors.Is(err, errOverloaded):
		st, derr := status.New(codes.ResourceExhausted, err.Error()).
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(g.r.cfg.RetryAfter)})
		if derr != nil {
			return ptraceotlp.ExportResponse{}, status.Error(codes.ResourceExhausted, err.Error())
		}
		return ptraceotlp.ExportResponse{}, st.Err()
	default:
		return ptraceotlp.ExportResponse{}, status.Error(codes.Unavailable, err.Error())
	}
	resp := ptraceotlp.NewExportResponse()
	if c.rejected() > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(c.rejected()))
		resp.PartialSuccess().SetErrorMessage(c.message())
	}
	return resp, nil
}
