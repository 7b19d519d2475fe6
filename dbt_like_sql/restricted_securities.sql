-- Every security restricted for an account: restrictions name an account or (account
-- null) a household, and a security or (security null) a sector. Accounts are matched
-- by equality, one way per kind of restriction (a condition on either column would be a
-- nested-loop join of every restriction with every account).
with protected as (
    select a.account_id, r.restriction_id, r.security_id, r.sector
    from restrictions as r
    join accounts as a on a.account_id = r.account_id
    union all
    select a.account_id, r.restriction_id, r.security_id, r.sector
    from restrictions as r
    join accounts as a on a.household_id = r.household_id
    where r.account_id is null and a.account_id is not null
)
select
    p.account_id,
    sec.security_id,
    p.restriction_id
from protected as p
join securities as sec
    on sec.security_id = coalesce(p.security_id, sec.security_id)
    and (p.security_id is not null or p.sector = sec.sector)
order by p.account_id, sec.security_id, p.restriction_id
