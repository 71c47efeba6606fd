package collect

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor exporters use
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
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
	s := grpc.NewServer(grpc.MaxRecvMsgSize(int(r.cfg.MaxRequestBytes)),
		grpc.ForceServerCodecV2(countingCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name), r: r}))
	ptraceotlp.RegisterGRPCServer(s, &grpcServer{r: r})
	pmetricotlp.RegisterGRPCServer(s, &metricsServer{r: r})
	plogotlp.RegisterGRPCServer(s, &logsServer{r: r})
	return s
}

// metricsServer and logsServer answer OTLP/gRPC metrics and logs with success, forwarding them
// with Config.Forward (re-encoded as OTLP/HTTP protobuf), as serveOther does over HTTP.
type (
	metricsServer struct {
		pmetricotlp.UnimplementedGRPCServer
		r *Receiver
	}
	logsServer struct {
		plogotlp.UnimplementedGRPCServer
		r *Receiver
	}
)

func (m *metricsServer) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	m.r.other(pathMetrics, cMetricsRequests, req.MarshalProto)
	return pmetricotlp.NewExportResponse(), nil
}

func (l *logsServer) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	l.r.other(pathLogs, cLogsRequests, req.MarshalProto)
	return plogotlp.NewExportResponse(), nil
}

// other counts a metrics or logs request received over gRPC and forwards it.
func (r *Receiver) other(path string, counted counter, marshal func() ([]byte, error)) {
	r.c.add(counted, 1)
	if r.fwd == nil {
		return
	}
	if b, err := marshal(); err == nil { // what pdata decoded always encodes
		r.fwd.enqueue(path, ctProtobuf, b)
	}
}

// countingCodec is the registered protobuf codec (pdata's, for its types) counting the
// requests it cannot decode: gRPC answers those itself, before Export (INTERNAL, which OTLP
// exporters do not retry), so this is the one place to count them as malformed.
type countingCodec struct {
	encoding.CodecV2
	r *Receiver
}

func (c countingCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err != nil {
		c.r.c.add(cRequests, 1)
		c.r.c.add(cMalformed, 1)
	}
	return err
}

// Export queues the request's spans for assembly. Overload is RESOURCE_EXHAUSTED with
// RetryInfo (which OTLP exporters retry after the given delay), shutdown is UNAVAILABLE, and
// invalid spans are reported as partial success.
func (g *grpcServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	g.r.c.add(cRequests, 1)
	if err := g.r.reserve(); errors.Is(err, errShuttingDown) {
		return ptraceotlp.ExportResponse{}, status.Error(codes.Unavailable, err.Error())
	} else if err != nil {
		st, derr := status.New(codes.ResourceExhausted, err.Error()).
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(g.r.cfg.RetryAfter)})
		if derr != nil {
			return ptraceotlp.ExportResponse{}, status.Error(codes.ResourceExhausted, err.Error())
		}
		return ptraceotlp.ExportResponse{}, st.Err()
	}
	var fwd []byte
	if g.r.fwd != nil {
		// Before ingest, which sanitizes the request in place: what is forwarded is what came.
		fwd, _ = req.MarshalProto() // what pdata decoded always encodes
	}
	c, err := g.r.ingest(req.Traces())
	if err != nil {
		return ptraceotlp.ExportResponse{}, status.Error(codes.Unavailable, err.Error())
	}
	if fwd != nil {
		g.r.fwd.enqueue(pathTraces, ctProtobuf, fwd)
	}
	resp := ptraceotlp.NewExportResponse()
	if c.rejected() > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(c.rejected()))
		resp.PartialSuccess().SetErrorMessage(c.message())
	}
	return resp, nil
}
