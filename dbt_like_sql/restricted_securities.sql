-- Every security restricted for an account: restrictions name an account or (account
-- null) a household, and a security or (security null) a sector.
select
    a.account_id,
    sec.security_id,
    r.restriction_id
from restrictions as r
join accounts as a
    on a.account_id = coalesce(r.account_id, a.account_id)
    and (r.account_id is not null or r.household_id = a.household_id)
join securities as sec
    on sec.security_id = coalesce(r.security_id, sec.security_id)
    and (r.security_id is not null or r.sector = sec.sector)
order by a.account_id, sec.security_id, r.restriction_id
