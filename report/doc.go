// Package report renders results for people: the terminal tables of load runs, sweeps, findings
// and doctor runs, the sweep's inline-SVG page and the doctor's self-contained HTML report
// (uPlot and the data inline; no request leaves the page). It writes to the io.Writer it is
// given and does nothing else: it never produces load, never reads files, and never imports
// the lab.
package report
