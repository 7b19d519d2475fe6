-- Every account of the master, suspended ones included (status carried, never dropped):
-- cash, market value at the date's closes (a position without a close counts 0), total
-- value, and the policy's account group (first match by ordinal; like Policy.group_for,
-- the last group when none matches), and the account's rebalance type ("normal" where the
-- master gives none).
with account_cash as (
    select
        cb.account_id,
        fsum(cb.cash) as cash
    from cash_balances as cb
    group by cb.account_id
),

position_values as (
    select
        pos.account_id,
        fsum(pos.quantity * coalesce(sp.close, 0)) as market_value
    from account_positions as pos
    left join security_prices as sp on pos.security_id = sp.security_id
    group by pos.account_id
),

valued as (
    select
        a.account_id,
        a.household_id,
        a.custodian,
        a.registration,
        a.model_id,
        a.st_rate,
        a.lt_rate,
        coalesce(a.rebalance_type, 'normal') as rebalance_type,
        st.status,
        coalesce(ac.cash, 0) as cash,
        coalesce(pv.market_value, 0) as market_value,
        coalesce(ac.cash, 0) + coalesce(pv.market_value, 0) as total_value
    from accounts as a
    left join account_status as st on a.account_id = st.account_id
    left join account_cash as ac on a.account_id = ac.account_id
    left join position_values as pv on a.account_id = pv.account_id
),

matching_groups as (
    select
        v.account_id,
        g.name,
        g.review,
        row_number() over (partition by v.account_id order by g.ordinal) as match_rank
    from valued as v
    join policy_account_groups as g
        on v.total_value >= g.min_value
        and v.total_value < g.max_value
        and (g.registrations is null or list_contains(g.registrations, v.registration))
),

fallback_group as (
    select
        g.name,
        g.review
    from policy_account_groups as g
    order by g.ordinal desc
    limit 1
)

select
    v.account_id,
    v.household_id,
    v.custodian,
    v.registration,
    v.model_id,
    v.st_rate,
    v.lt_rate,
    v.status,
    v.cash,
    v.market_value,
    v.total_value,
    coalesce(mg.name, fg.name) as account_group,
    coalesce(mg.review, fg.review) as review_policy,
    v.rebalance_type
from valued as v
left join matching_groups as mg on v.account_id = mg.account_id and mg.match_rank = 1
cross join fallback_group as fg
order by v.account_id, v.household_id, v.custodian
