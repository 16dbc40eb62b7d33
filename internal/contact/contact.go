package contact

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Limits of a contact's fields.
const (
	MaxNameLen        = 200
	MaxEmailLen       = 254
	MaxTags           = 50
	MaxTagLen         = 50
	MaxAttributes     = 50
	MaxAttributeValue = 1000
	MaxListNameLen    = 100
	MaxReasonLen      = 200
)

// Contact is a person Parley may call.
type Contact struct {
	ID          string `json:"id" example:"contact_01jq3v5x8kf9r1t6m2c4d7e8gh"`
	WorkspaceID string `json:"workspaceId"`
	Phone       string `json:"phone" doc:"E.164. Masked (+91 98*****210) for members when the workspace's privacy.maskPhoneNumbersForMembers is on." example:"+14155550123"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Timezone    string `json:"timezone" doc:"IANA time zone; derived from the number when not given and the number has exactly one. Empty when unknown." example:"America/Los_Angeles"`
	// Attributes are a flat object of strings, numbers and booleans: prompt variables.
	Attributes map[string]any `json:"attributes" doc:"A flat object of strings, numbers and booleans; agents read them as {{contact.<name>}}."`
	Tags       []string       `json:"tags" doc:"Sorted."`
	DoNotCall  bool           `json:"doNotCall" doc:"Whether the number is on the workspace's do-not-call list."`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
}

// List is a named static list of contacts.
type List struct {
	ID          string    `json:"id" example:"list_01jq3v5x8kf9r1t6m2c4d7e8gh"`
	WorkspaceID string    `json:"workspaceId"`
	Name        string    `json:"name"`
	Size        int       `json:"size" doc:"How many contacts it holds."`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// DNCEntry is a number on the workspace's do-not-call list.
type DNCEntry struct {
	ID          string    `json:"id" example:"dnc_01jq3v5x8kf9r1t6m2c4d7e8gh"`
	WorkspaceID string    `json:"workspaceId"`
	Phone       string    `json:"phone" doc:"E.164 (masked for members, as for contacts)." example:"+14155550123"`
	Reason      string    `json:"reason"`
	CreatedBy   string    `json:"createdBy" doc:"The user or API key that added it."`
	CreatedAt   time.Time `json:"createdAt"`
}

// PhoneError is why a phone number was refused.
type PhoneError struct{ Reason string }

func (e *PhoneError) Error() string { return e.Reason }

// NormalizePhone parses raw as a phone number — international (+…, 00…) or, without a country
// code, national in region (ISO 3166-1 alpha-2) — and returns it in E.164. It refuses, with the
// reason, what is not a number, impossible numbers (too short, too long, unknown country code)
// and numbers that are not valid for their region.
func NormalizePhone(raw, region string) (string, error) {
	num, err := parsePhone(raw, region)
	if err != nil {
		return "", err
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// parsePhone is NormalizePhone's parse and checks, returning the number itself.
func parsePhone(raw, region string) (*phonenumbers.PhoneNumber, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, &PhoneError{"phone is required"}
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			if !strings.HasPrefix(raw, "+") && !strings.HasPrefix(raw, "00") {
				return nil, &PhoneError{fmt.Sprintf("the number has no country code and the workspace's default region (%q) cannot supply one: write it as +<country code>…", region)}
			}
			return nil, &PhoneError{"unknown country code"}
		case errors.Is(err, phonenumbers.ErrNotANumber):
			return nil, &PhoneError{"not a phone number"}
		case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
			return nil, &PhoneError{"too short to be a phone number"}
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			return nil, &PhoneError{"too long to be a phone number"}
		}
		return nil, &PhoneError{"not a phone number: " + err.Error()}
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.INVALID_COUNTRY_CODE:
		return nil, &PhoneError{"unknown country code"}
	case phonenumbers.TOO_SHORT:
		return nil, &PhoneError{"too short for its country"}
	case phonenumbers.TOO_LONG:
		return nil, &PhoneError{"too long for its country"}
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return nil, &PhoneError{"a local number: add the area code"}
	default:
		return nil, &PhoneError{"not a possible length for its country"}
	}
	if !phonenumbers.IsValidNumber(num) {
		r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
		return nil, &PhoneError{fmt.Sprintf("not a valid number in %s (+%d)", r, num.GetCountryCode())}
	}
	return num, nil
}

// TimezoneOf returns the IANA time zone of an E.164 number when the numbering plan gives it
// exactly one, and "" otherwise.
func TimezoneOf(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return timezoneOfNumber(num)
}

// timezoneOfNumber is TimezoneOf for a parsed number.
func timezoneOfNumber(num *phonenumbers.PhoneNumber) string {
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil || len(zones) != 1 || zones[0] == "Etc/Unknown" {
		return ""
	}
	tz := zones[0]
	if c, ok := currentZoneNames[tz]; ok {
		tz = c
	}
	if !knownZone(tz) {
		return ""
	}
	return tz
}

// zones caches which IANA names time.LoadLocation knows (it reads the zone database on every
// call, which an import of a million rows cannot afford). The database does not change while
// the process runs.
var zones sync.Map

func knownZone(tz string) bool {
	if ok, hit := zones.Load(tz); hit {
		return ok.(bool)
	}
	_, err := time.LoadLocation(tz)
	zones.Store(tz, err == nil)
	return err == nil
}

// currentZoneNames maps the old IANA names the numbering-plan data still uses to current ones.
var currentZoneNames = map[string]string{
	"Asia/Calcutta": "Asia/Kolkata", "Asia/Saigon": "Asia/Ho_Chi_Minh", "Asia/Katmandu": "Asia/Kathmandu",
	"Asia/Rangoon": "Asia/Yangon", "Europe/Kiev": "Europe/Kyiv", "Atlantic/Faeroe": "Atlantic/Faroe",
	"America/Godthab": "America/Nuuk", "Pacific/Truk": "Pacific/Chuuk", "Pacific/Ponape": "Pacific/Pohnpei",
}

// Mask hides the middle of an E.164 number: the country code, the first two and the last three
// digits of the national number stay (+91 98*****210). Anything else is masked whole.
func Mask(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "***"
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	head, tail := 2, 3
	if len(nsn) < head+tail+2 {
		head, tail = 0, min(2, len(nsn))
	}
	return fmt.Sprintf("+%d %s%s%s", num.GetCountryCode(), nsn[:head], strings.Repeat("*", len(nsn)-head-tail), nsn[len(nsn)-tail:])
}

// newContact checks in and makes the contact it describes, without ID or times: the phone in
// E.164 (a national number read in region), the time zone derived from the number when not
// given. Errors: Invalid, at body.<field>, with the reason.
func newContact(region string, in CreateInput) (Contact, error) {
	num, err := parsePhone(in.Phone, region)
	if err != nil {
		return Contact{}, phoneError("body.phone", in.Phone, err)
	}
	c := Contact{Phone: phonenumbers.Format(num, phonenumbers.E164)}
	if c.Name, err = validName("body.name", in.Name); err != nil {
		return Contact{}, err
	}
	if c.Email, err = validEmail(in.Email); err != nil {
		return Contact{}, err
	}
	if c.Timezone, err = validTimezone(in.Timezone); err != nil {
		return Contact{}, err
	}
	if c.Timezone == "" {
		c.Timezone = timezoneOfNumber(num)
	}
	if c.Attributes, err = mergeAttributes(nil, in.Attributes, false); err != nil {
		return Contact{}, err
	}
	if err := checkReserved(c.Attributes); err != nil {
		return Contact{}, err
	}
	if c.Tags, err = validTags("body.tags", in.Tags); err != nil {
		return Contact{}, err
	}
	return c, nil
}

var attributeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func validName(loc, name string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", apierr.Validation(apierr.FieldError{Location: loc, Message: fmt.Sprintf("at most %d characters", MaxNameLen)})
	}
	return name, nil
}

func validEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > MaxEmailLen {
		return "", apierr.Validation(apierr.FieldError{Location: "body.email", Message: "not an email address", Value: email})
	}
	return email, nil
}

// validTimezone checks an IANA time zone name ("" is allowed: unknown).
func validTimezone(tz string) (string, error) {
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return "", nil
	}
	if !knownZone(tz) || tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return "", apierr.Validation(apierr.FieldError{Location: "body.timezone", Message: "not an IANA time zone (e.g. Europe/Berlin)", Value: tz})
	}
	return tz, nil
}

// validTags trims, drops duplicates and sorts.
func validTags(loc string, tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for i, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || utf8.RuneCountInString(t) > MaxTagLen || strings.Contains(t, ",") {
			return nil, apierr.Validation(apierr.FieldError{Location: fmt.Sprintf("%s[%d]", loc, i), Message: fmt.Sprintf("a tag has 1 to %d characters, no comma", MaxTagLen), Value: t})
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, apierr.Validation(apierr.FieldError{Location: loc, Message: fmt.Sprintf("at most %d tags", MaxTags)})
	}
	return out, nil
}

// mergeAttributes applies patch to base (a nil value removes the attribute; allowNull false
// refuses it) and checks the result: names are identifiers, values strings, finite numbers or
// booleans, never objects or arrays.
func mergeAttributes(base, patch map[string]any, allowNull bool) (map[string]any, error) {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	var errs []apierr.FieldError
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		loc := "body.attributes." + k
		if !attributeName.MatchString(k) {
			errs = append(errs, apierr.FieldError{Location: loc, Message: "an attribute name is a letter or _ then up to 63 letters, digits or _", Value: k})
			continue
		}
		switch v := patch[k].(type) {
		case nil:
			if !allowNull {
				errs = append(errs, apierr.FieldError{Location: loc, Message: "an attribute is a string, a number or a boolean"})
				continue
			}
			delete(out, k)
		case string:
			if utf8.RuneCountInString(v) > MaxAttributeValue {
				errs = append(errs, apierr.FieldError{Location: loc, Message: fmt.Sprintf("at most %d characters", MaxAttributeValue)})
				continue
			}
			out[k] = v
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				errs = append(errs, apierr.FieldError{Location: loc, Message: "not a finite number"})
				continue
			}
			out[k] = v
		case int:
			out[k] = float64(v)
		case bool:
			out[k] = v
		default:
			errs = append(errs, apierr.FieldError{Location: loc, Message: "attributes are flat: a string, a number or a boolean, not an object or a list"})
		}
	}
	if len(errs) > 0 {
		return nil, apierr.Validation(errs...)
	}
	if len(out) > MaxAttributes {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.attributes", Message: fmt.Sprintf("at most %d attributes", MaxAttributes)})
	}
	return out, nil
}

// valueText is an attribute value as search compares it: strings as they are, numbers in their
// shortest form (3, 2.5), booleans true or false.
func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

func validListName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxListNameLen {
		return "", apierr.Validation(apierr.FieldError{Location: "body.name", Message: fmt.Sprintf("a list name has 1 to %d characters", MaxListNameLen), Value: name})
	}
	return name, nil
}
