-- The annual realized-gain budget of every account and what is left of it today.
-- Budget: the account master's gain_budget ("25000" dollars, "1.5%" of the account's
-- total value, "none"), else its group's gain_budget_usd and gain_budget_pct (the smaller
-- when both are set); only a taxable account has one (elsewhere gains have no tax effect).
-- A value validation refuses (invalid_gain_budget) suspends its account before this runs.
-- Used so far: the net realized gains (losses extend the budget) of the calendar year's
-- sells (sell_gains): the custodians' transactions ingest loaded plus the firm's released
-- sells the custodian does not show yet (continuity adds them as transactions).
-- Ingest loads transactions from run_context.history_from only (its lookback window).
-- When that is after 1 January, or a sell of the year has no known gain, the year is
-- not fully seen: the conservative assumption is that the unseen part used the rest of
-- the budget, so today's trades may realize no net gain (remaining at most 0).
with given as (
    -- least() skips a null: the group's dollars, its percent of value, or the smaller
    select
        v.account_id,
        v.registration,
        v.total_value,
        least(g.gain_budget_usd, g.gain_budget_pct * v.total_value / 100) as group_budget,
        nullif(trim(a.gain_budget), '') as override
    from account_valuations as v
    left join accounts as a on v.account_id = a.account_id
    left join policy_account_groups as g on v.account_group = g.name
),

budgets as (
    select
        gv.account_id,
        case
            when gv.registration <> 'taxable' then null
            when gv.override is null then gv.group_budget
            when lower(gv.override) = 'none' then null
            when gv.override like '%\%' escape '\'
                then try_cast(rtrim(gv.override, '%') as double) * gv.total_value / 100
            else try_cast(gv.override as double)
        end as gain_budget_usd
    from given as gv
),

this_year as (
    -- the period of the year's sells: 1 January to today
    select b.account_id, make_date(year(ctx.as_of), 1, 1) as first_day, ctx.as_of as last_day
    from budgets as b
    cross join run_context as ctx
),

seen as (
    select
        b.account_id,
        b.gain_budget_usd,
        coalesce(ys.realized_gain, 0) as realized_gain_ytd,
        ctx.history_from,
        coalesce(ys.unknown_gain_sells, 0) as unknown_gain_sells,
        ctx.history_from <= make_date(year(ctx.as_of), 1, 1)
        and coalesce(ys.unknown_gain_sells, 0) = 0 as year_complete
    from budgets as b
    left join realized_gains(sell_gains, this_year) as ys on b.account_id = ys.account_id
    cross join run_context as ctx
)

select
    s.account_id,
    s.gain_budget_usd,
    s.realized_gain_ytd,
    s.history_from,
    s.unknown_gain_sells,
    s.year_complete,
    case
        when s.gain_budget_usd is null then null
        when s.year_complete then s.gain_budget_usd - s.realized_gain_ytd
        else least(s.gain_budget_usd - s.realized_gain_ytd, 0)
    end as remaining_gain_budget_usd
from seen as s
order by s.account_id
