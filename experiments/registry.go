package experiments

// All is every experiment built, in the order of the notes' claims. An experiment lands with the
// lab tier it needs; none is listed before it can run.
var All = Registry{
	averagesMislead,
	latencyKnee,
	utilizationLatency,
	burstyTraffic,
	headroomPays,
	misidentifiedBottleneck,
	profilingVsTracing,
	tracingFindsDB,
	nPlusOne,
	indexBeforeCache,
	asyncInvite,
	asyncVideo,
	asyncDelete,
	edgeAuth,
	cdnStatic,
	servicesHops,
	servicesTimeouts,
	servicesTracing,
	servicesReplication,
	serverlessColdStart,
	serverlessKeepWarm,
	serverlessTimeLimit,
	serverlessBill,
}
