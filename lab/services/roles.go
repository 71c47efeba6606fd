// Package services splits the lab's API along its modules so that it runs as a monolith or as
// services from the same domain code. Each module is a part of the API's store (and, for payments
// and notifications, of its outside dependencies) owned by one service: in the monolith the
// store itself implements it in process; in services mode [Remote] implements it with HTTP/JSON
// calls (lab/remote) to the owning service, which serves it with [Handler] over its own database.
package services

import (
	"fmt"
	"strings"
)

// Role is a service of the split lab.
type Role string

// The services. Accounts owns users, sessions and account deletion; posts owns posts, comments,
// search, the feed and videos, and keeps a copy of the users it shows as authors; payments owns
// orders and charges; notifications owns invitations and sends mail.
const (
	Accounts      Role = "accounts"
	Posts         Role = "posts"
	Payments      Role = "payments"
	Notifications Role = "notifications"
)

// Roles lists every service, in the order the lab starts them.
var Roles = []Role{Accounts, Posts, Payments, Notifications}

// ServiceName is the OpenTelemetry service.name of a role's process; the gateway's is
// [GatewayServiceName].
func (r Role) ServiceName() string { return "headroom-" + string(r) }

// GatewayServiceName is the service.name of the gateway, the process that serves the public API.
const GatewayServiceName = "headroom-gateway"

// ParseRole returns the role named s, or an error naming s and the valid roles.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("service role %q: want one of %s", s, strings.Join(names, ", "))
}
