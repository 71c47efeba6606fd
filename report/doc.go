// Package report renders results for people: the terminal table of a load run. It writes to the
// io.Writer it is given and does nothing else; it never produces load.
package report
