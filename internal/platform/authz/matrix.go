package authz

// Action is something a principal may do in a workspace.
type Action string

// The actions. A capability that adds an action adds a row to Matrix, a case to the matrix test
// and a line to docs/team-and-access.md.
const (
	WorkspaceView      Action = "workspace.view"
	WorkspaceUpdate    Action = "workspace.update"
	WorkspaceDelete    Action = "workspace.delete"
	OwnershipTransfer  Action = "workspace.transfer_ownership"
	MembersView        Action = "members.view"
	MembersManage      Action = "members.manage"
	APIKeysManage      Action = "api_keys.manage"
	AuditRead          Action = "audit.read"
	BillingView        Action = "billing.view"
	BillingManage      Action = "billing.manage"
	SettingsRead       Action = "settings.read"
	SettingsWrite      Action = "settings.write"
	AgentsRead         Action = "agents.read"
	AgentsUse          Action = "agents.use"
	AgentsWrite        Action = "agents.write"
	ProviderKeysManage Action = "provider_keys.manage"
	ContactsRead       Action = "contacts.read"
	ContactsWrite      Action = "contacts.write"
	WebhooksRead       Action = "webhooks.read"
	WebhooksWrite      Action = "webhooks.write"
	TelephonyRead      Action = "telephony.read"
	TelephonyManage    Action = "telephony.manage"
	CallsRead          Action = "calls.read"
	CallsWrite         Action = "calls.write"
	CampaignsRead      Action = "campaigns.read"
	CampaignsWrite     Action = "campaigns.write"
)

// Rule is one row of the permission matrix.
type Rule struct {
	Owner, Admin, Member bool
	// Scope is the API-key scope that grants the action; empty means no API key may perform it,
	// AnyScope that every key of the workspace may.
	Scope string
	// Description completes "may not …" in error messages and is the row's label in docs.
	Description string
}

func (r Rule) allows(role Role) bool {
	switch role {
	case Owner:
		return r.Owner
	case Admin:
		return r.Admin
	case Member:
		return r.Member
	}
	return false
}

// AnyScope in a Rule lets every API key of the workspace perform the action, whatever its scopes.
const AnyScope = "*"

// Matrix is the permission matrix: the one place that says who may do what.
var Matrix = map[Action]Rule{
	WorkspaceView:      {true, true, true, AnyScope, "view the workspace"},
	WorkspaceUpdate:    {true, true, false, "", "edit the workspace"},
	WorkspaceDelete:    {true, false, false, "", "delete the workspace"},
	OwnershipTransfer:  {true, false, false, "", "transfer ownership"},
	MembersView:        {true, true, true, "", "view the team"},
	MembersManage:      {true, true, false, "", "manage the team"},
	APIKeysManage:      {true, true, false, "", "manage API keys"},
	AuditRead:          {true, true, false, "", "read the audit log"},
	BillingView:        {true, true, true, "usage:read", "view usage and credits"},
	BillingManage:      {true, false, false, "", "manage billing"},
	SettingsRead:       {true, true, true, "agents:read", "read workspace settings"},
	SettingsWrite:      {true, true, false, "", "edit workspace settings"},
	AgentsRead:         {true, true, true, "agents:read", "view agents"},
	AgentsUse:          {true, true, true, "calls:write", "use agents"},
	AgentsWrite:        {true, true, false, "agents:write", "create, edit or delete agents"},
	ProviderKeysManage: {true, true, false, "", "manage provider keys"},
	ContactsRead:       {true, true, true, "contacts:read", "view contacts, lists and the do-not-call list"},
	ContactsWrite:      {true, true, false, "contacts:write", "create, edit or delete contacts, lists and do-not-call entries"},
	WebhooksRead:       {true, true, false, "webhooks:read", "view webhook endpoints and their deliveries"},
	WebhooksWrite:      {true, true, false, "webhooks:write", "create, edit or delete webhook endpoints, reveal or rotate their secrets, retry deliveries"},
	TelephonyRead:      {true, true, true, "calls:read", "view telephony credentials (never their secrets) and phone numbers"},
	TelephonyManage:    {true, true, false, "", "add, edit, verify or delete telephony credentials, phone numbers and call triggers"},
	CallsRead:          {true, true, true, "calls:read", "view calls"},
	CallsWrite:         {true, true, true, "calls:write", "place and hang up calls"},
	CampaignsRead:      {true, true, true, "campaigns:read", "view campaigns, their progress and results"},
	CampaignsWrite:     {true, true, false, "campaigns:write", "create, edit, start, pause, resume, cancel or delete campaigns"},
}
