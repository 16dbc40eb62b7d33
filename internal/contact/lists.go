package contact

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
)

// MaxMembersPerRequest bounds one add-members request.
const MaxMembersPerRequest = 1000

var errListExists = apierr.New(apierr.Conflict, "list_exists", "the workspace already has a list with this name")

func (s *Service) recordList(ctx context.Context, tx *sql.Tx, now time.Time, wsID, action, listID string, changes []string) error {
	return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: action, ResourceType: "contact_list", ResourceID: listID, Changes: changes})
}

// CreateList makes a static list (owner, admin; contacts:write). Names are unique in the
// workspace. Errors: NotFound, Forbidden, Invalid, Conflict list_exists.
func (s *Service) CreateList(ctx context.Context, wsID, name string) (List, error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return List{}, err
	}
	name, err := validListName(name)
	if err != nil {
		return List{}, err
	}
	now := s.now()
	l := List{ID: id.New(id.ContactList), WorkspaceID: wsID, Name: name, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.insertList(ctx, tx, l)
		if err != nil {
			return err
		}
		if !ok {
			return errListExists
		}
		return s.recordList(ctx, tx, now, wsID, "contact_list.created", l.ID, []string{"name"})
	})
	if err != nil {
		return List{}, err
	}
	return l, nil
}

// GetList returns one of the workspace's lists with its size (every role; contacts:read).
// Errors: NotFound, Forbidden.
func (s *Service) GetList(ctx context.Context, wsID, listID string) (List, error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsRead); err != nil {
		return List{}, err
	}
	l, err := s.st.getList(ctx, s.db.Read, wsID, listID)
	if errors.Is(err, sql.ErrNoRows) {
		return List{}, apierr.NotFoundf("contact list")
	}
	return l, err
}

// ListLists returns the workspace's lists, newest first (every role; contacts:read). Errors:
// NotFound, Forbidden, Invalid (cursor).
func (s *Service) ListLists(ctx context.Context, wsID, cursor string, limit int) (page.Page[List], error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsRead); err != nil {
		return page.Page[List]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]List, error) {
		return s.st.lists(ctx, s.db.Read, wsID, before, n)
	}, func(l List) string { return l.ID })
}

// RenameList renames one of the workspace's lists (owner, admin; contacts:write). Errors:
// NotFound, Forbidden, Invalid, Conflict list_exists.
func (s *Service) RenameList(ctx context.Context, wsID, listID, name string) (List, error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return List{}, err
	}
	name, err := validListName(name)
	if err != nil {
		return List{}, err
	}
	now := s.now()
	var out List
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := s.st.getList(ctx, tx, wsID, listID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("contact list")
		}
		if err != nil {
			return err
		}
		out = l
		if l.Name == name {
			return nil
		}
		if other, err := s.st.listIDByName(ctx, tx, wsID, name); err != nil {
			return err
		} else if other != "" {
			return errListExists
		}
		if _, err := s.st.renameList(ctx, tx, wsID, listID, name, now); err != nil {
			return err
		}
		out.Name, out.UpdatedAt = name, now
		return s.recordList(ctx, tx, now, wsID, "contact_list.updated", listID, []string{"name"})
	})
	return out, err
}

// DeleteList removes one of the workspace's lists; its contacts stay (owner, admin;
// contacts:write). Errors: NotFound, Forbidden.
func (s *Service) DeleteList(ctx context.Context, wsID, listID string) error {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.deleteList(ctx, tx, wsID, listID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("contact list")
		}
		return s.recordList(ctx, tx, now, wsID, "contact_list.deleted", listID, nil)
	})
}

// AddMembers puts the workspace's contacts in one of its lists (owner, admin; contacts:write);
// contacts already in it are left as they are. It returns the list and how many were added. A
// contact ID that is not the workspace's is refused (422, naming it) and nothing is added.
// Errors: NotFound (the list), Forbidden, Invalid.
func (s *Service) AddMembers(ctx context.Context, wsID, listID string, contactIDs []string) (List, int, error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return List{}, 0, err
	}
	ids := slices.Compact(slices.Sorted(slices.Values(contactIDs)))
	if len(ids) == 0 || len(ids) > MaxMembersPerRequest {
		return List{}, 0, apierr.Validation(apierr.FieldError{Location: "body.contactIds", Message: fmt.Sprintf("1 to %d contact IDs", MaxMembersPerRequest)})
	}
	now := s.now()
	var out List
	var added int
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		added = 0
		if _, err := s.st.getList(ctx, tx, wsID, listID); errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("contact list")
		} else if err != nil {
			return err
		}
		var unknown []apierr.FieldError
		for _, cid := range ids {
			ok, err := s.st.contactExists(ctx, tx, wsID, cid)
			if err != nil {
				return err
			}
			if !ok {
				unknown = append(unknown, apierr.FieldError{Location: "body.contactIds", Message: "no such contact in this workspace", Value: cid})
			}
		}
		if len(unknown) > 0 {
			return apierr.Validation(unknown...)
		}
		for _, cid := range ids {
			ok, err := s.st.addMember(ctx, tx, wsID, listID, cid, now)
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		if added > 0 {
			if err := s.recordList(ctx, tx, now, wsID, "contact_list.members_added", listID, []string{"members"}); err != nil {
				return err
			}
		}
		var err error
		out, err = s.st.getList(ctx, tx, wsID, listID)
		return err
	})
	return out, added, err
}

// RemoveMember takes a contact out of one of the workspace's lists (owner, admin;
// contacts:write). Errors: NotFound (the list, or the contact is not in it), Forbidden.
func (s *Service) RemoveMember(ctx context.Context, wsID, listID, contactID string) error {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.removeMember(ctx, tx, wsID, listID, contactID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("list member")
		}
		return s.recordList(ctx, tx, now, wsID, "contact_list.members_removed", listID, []string{"members"})
	})
}
