package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/loadgen"
)

// shardFlags are load's flags for a load sent from several machines: --shard and --start-at on
// each, --out-markers for results read back from logs, and --k8s-job to print the Kubernetes
// Indexed Job that runs the shards.
type shardFlags struct {
	shard      string
	startAt    string
	outMarkers bool
	k8sJob     int
	k8sImage   string
	k8sName    string
	k8sCPU     string
	k8sMemory  string
}

// k8s defaults: a shard's requests, and the Job's name.
const (
	k8sNameDefault   = "headroom-load"
	k8sCPUDefault    = "2"
	k8sMemoryDefault = "256Mi"
)

func (s *shardFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.shard, "shard", "", "send shard I of N of the load (I from 0), as one of N machines: every N-th due time (poisson: an independent process at rate/N); merge the N results")
	fl.StringVar(&s.startAt, "start-at", "", "wait until this RFC 3339 instant, such as 2026-12-07T10:00:00Z, to start (give every shard the same); the result says how far from it the run started")
	fl.BoolVar(&s.outMarkers, "out-markers", false, "with --out -: write the result between marker lines, for merge --from-k8s-logs to find in logs")
	fl.IntVar(&s.k8sJob, "k8s-job", 0, "print a Kubernetes Indexed Job that sends this load from N pods (shard = completion index) instead of sending it; needs --start-at and --k8s-image")
	fl.StringVar(&s.k8sImage, "k8s-image", "", "--k8s-job: the container image with headroom as its headroom command")
	fl.StringVar(&s.k8sName, "k8s-name", k8sNameDefault, "--k8s-job: the Job's name")
	fl.StringVar(&s.k8sCPU, "k8s-cpu", k8sCPUDefault, "--k8s-job: CPU each pod requests (a Kubernetes quantity)")
	fl.StringVar(&s.k8sMemory, "k8s-memory", k8sMemoryDefault, "--k8s-job: memory each pod requests and is limited to (a Kubernetes quantity)")
	complete.Flags(cmd, complete.None, "shard", "start-at", "k8s-image", "k8s-name", "k8s-cpu", "k8s-memory")
}

// apply sets c's shard and start from the flags.
func (s *shardFlags) apply(fl *pflag.FlagSet, c *loadgen.Config) error {
	if s.shard != "" {
		i, n, ok := strings.Cut(s.shard, "/")
		idx, err1 := strconv.Atoi(i)
		cnt, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil {
			return cliexit.Usagef("--shard %q: want I/N, such as 0/4 (shard I of N, counted from 0)", s.shard)
		}
		c.Shard = loadgen.Shard{Index: idx, Count: cnt}
	}
	if s.startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, s.startAt)
		if err != nil {
			return cliexit.Usagef("--start-at %q: want an RFC 3339 instant, such as 2026-12-07T10:00:00Z", s.startAt)
		}
		c.StartAt = t
	}
	if s.outMarkers && !fl.Changed("out") {
		return cliexit.Usagef("--out-markers belongs to --out -: the result written to standard output")
	}
	for _, name := range []string{"k8s-image", "k8s-name", "k8s-cpu", "k8s-memory"} {
		if fl.Changed(name) && s.k8sJob == 0 {
			return cliexit.Usagef("--%s belongs to --k8s-job N", name)
		}
	}
	if s.k8sJob != 0 || fl.Changed("k8s-job") {
		return s.checkK8s(fl, c)
	}
	return nil
}

var (
	// k8sQuantity is the Kubernetes resource quantities the manifest takes: a number with an
	// optional decimal or binary suffix.
	k8sQuantity = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)
	// k8sName is a DNS-1123 label, as a Job's name must be.
	k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// k8sLocalFlags name files of this machine, which the pods do not have.
var k8sLocalFlags = []string{"targets", "body-file", "samples"}

// checkK8s checks the flags of --k8s-job and sets c's shard to the Job's first, so that
// validating c checks that the load can be sharded.
func (s *shardFlags) checkK8s(fl *pflag.FlagSet, c *loadgen.Config) error {
	switch {
	case s.k8sJob < 1 || s.k8sJob > loadgen.MaxShards:
		return cliexit.Usagef("--k8s-job %d: want the number of pods, 1 to %d", s.k8sJob, loadgen.MaxShards)
	case s.shard != "":
		return cliexit.Usagef("--shard with --k8s-job: the Job gives each pod its shard")
	case s.startAt == "":
		return cliexit.Usagef("--k8s-job needs --start-at: the instant every pod starts at, a minute or two after you apply the Job, such as --start-at $(date -u -d '+2 min' +%%FT%%TZ)")
	case s.k8sImage == "":
		return cliexit.Usagef("--k8s-job needs --k8s-image: an image whose headroom command is this headroom, such as registry.example.com/headroom:v1")
	case !k8sName.MatchString(s.k8sName) || len(s.k8sName) > 63:
		return cliexit.Usagef("--k8s-name %q: want a DNS label: lower-case letters, digits and '-', at most 63", s.k8sName)
	case !k8sQuantity.MatchString(s.k8sCPU):
		return cliexit.Usagef("--k8s-cpu %q: want a Kubernetes quantity, such as 2 or 500m", s.k8sCPU)
	case !k8sQuantity.MatchString(s.k8sMemory):
		return cliexit.Usagef("--k8s-memory %q: want a Kubernetes quantity, such as 256Mi", s.k8sMemory)
	}
	for _, name := range k8sLocalFlags {
		if fl.Changed(name) {
			return cliexit.Usagef("--%s with --k8s-job: the pods do not have this machine's files; give the target as a URL", name)
		}
	}
	c.Shard = loadgen.Shard{Count: s.k8sJob}
	return nil
}

// k8sOwnFlags are load's flags that the Job's pods do not take from the command line: the Job
// sets them, or they belong to this machine.
var k8sOwnFlags = []string{"k8s-job", "k8s-image", "k8s-name", "k8s-cpu", "k8s-memory", "shard", "start-at", "out", "out-markers", "quiet", "interval"}

// k8sShardEnv is the pod's environment variable holding its completion index.
const k8sShardEnv = "HEADROOM_SHARD"

// writeK8sJob writes the Indexed Job that runs this load command (its URL args and the flags
// set on fl) in s.k8sJob pods, each the shard of its completion index, its result in its log
// between markers.
func (s *shardFlags) writeK8sJob(w io.Writer, fl *pflag.FlagSet, args []string) error {
	cmdArgs := append([]string{"load"}, args...)
	fl.Visit(func(f *pflag.Flag) {
		if slices.Contains(k8sOwnFlags, f.Name) {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				cmdArgs = append(cmdArgs, "--"+f.Name+"="+v)
			}
			return
		}
		cmdArgs = append(cmdArgs, "--"+f.Name+"="+f.Value.String())
	})
	for i, a := range cmdArgs {
		// Kubernetes expands $(VAR) in args; $$ keeps a user's $ as it is.
		cmdArgs[i] = strings.ReplaceAll(a, "$", "$$")
	}
	cmdArgs = append(cmdArgs, fmt.Sprintf("--shard=$(%s)/%d", k8sShardEnv, s.k8sJob),
		"--start-at="+s.startAt, "--out=-", "--out-markers", "--quiet")
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, `# headroom load in %[1]d shards, one per pod (made by headroom load --k8s-job). Run it:
#   kubectl apply -f job.yaml
#   kubectl wait --for=condition=complete --timeout=1h job/%[2]s
#   kubectl logs -l job-name=%[2]s --tail=-1 --max-log-requests=%[1]d > logs.txt
#   headroom merge --from-k8s-logs logs.txt --out all.json
apiVersion: batch/v1
kind: Job
metadata:
  name: %[3]s
  labels:
    app.kubernetes.io/name: headroom
spec:
  completionMode: Indexed
  completions: %[1]d
  parallelism: %[1]d
  # A shard retried later would start after the others: merge refuses it, so none is retried.
  backoffLimit: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: headroom
    spec:
      restartPolicy: Never
      affinity:
        podAntiAffinity:
          # One load generator per node where there are enough nodes.
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  job-name: %[3]s
      containers:
      - name: load
        image: %[4]s
        command: ["headroom"]
        args:
`, s.k8sJob, s.k8sName, q(s.k8sName), q(s.k8sImage))
	for _, a := range cmdArgs {
		fmt.Fprintf(&b, "        - %s\n", q(a))
	}
	fmt.Fprintf(&b, `        env:
        - name: %s
          valueFrom:
            fieldRef:
              fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        resources:
          requests:
            cpu: %s
            memory: %s
          limits:
            memory: %s
`, k8sShardEnv, q(s.k8sCPU), q(s.k8sMemory), q(s.k8sMemory))
	_, err := io.WriteString(w, b.String())
	return err
}

// k8sJobCmd is runLoad's --k8s-job: print the Job instead of sending the load.
func (s *shardFlags) k8sJobCmd(cmd *cobra.Command, args []string) error {
	if err := s.writeK8sJob(cmd.OutOrStdout(), cmd.Flags(), args); err != nil {
		return cliexit.RunFailed(err)
	}
	return nil
}
