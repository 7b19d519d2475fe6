-- The progress of every account in transition: funded in kind with holdings outside its
-- model, it moves to the model over time within its gain budget (the optimizer sells
-- what the model does not hold, target 0, as the budget allows). An account is in
-- transition from the account master's transition_start on: the firm says so, since
-- a share of non-model holdings alone cannot tell a new account from a drifted one or
-- date the start its gains count from. The share in model securities is of the total
-- value (cash counts as not yet invested in the model). Gains since the start are the
-- net realized gains of the sells seen (sell_gains) on or after transition_start; when
-- the loaded history begins later, or a sell's gain is unknown, gains_complete is false.
with transitioning as (
    select
        a.account_id,
        a.transition_start,
        v.model_id,
        v.total_value
    from accounts as a
    join account_valuations as v on a.account_id = v.account_id
    cross join run_context as ctx
    where a.transition_start is not null and a.transition_start <= ctx.as_of
),

held as (
    select
        tr.account_id,
        fsum(pos.quantity * coalesce(sp.close, 0))
            filter (where mt.security_id is not null) as model_value,
        fsum(pos.quantity * coalesce(sp.close, 0))
            filter (where mt.security_id is null) as non_model_value
    from transitioning as tr
    join account_positions as pos on tr.account_id = pos.account_id
    left join security_prices as sp on pos.security_id = sp.security_id
    left join model_targets as mt
        on tr.model_id = mt.model_id
        and pos.security_id = mt.security_id
        and mt.target_weight > 0
    group by tr.account_id
),

since_start as (
    -- the period whose sells count: the transition's start to today
    select tr.account_id, tr.transition_start as first_day, ctx.as_of as last_day
    from transitioning as tr
    cross join run_context as ctx
)

select
    tr.account_id,
    tr.transition_start,
    tr.total_value,
    coalesce(h.model_value, 0) as model_value,
    coalesce(h.non_model_value, 0) as non_model_value,
    case
        when tr.total_value > 0 then coalesce(h.model_value, 0) / tr.total_value
    end as model_share,
    coalesce(g.realized_gain, 0) as realized_gain_since_start,
    ctx.history_from <= tr.transition_start
    and coalesce(g.unknown_gain_sells, 0) = 0 as gains_complete,
    gb.gain_budget_usd,
    gb.remaining_gain_budget_usd
from transitioning as tr
left join held as h on tr.account_id = h.account_id
left join realized_gains(sell_gains, since_start) as g on tr.account_id = g.account_id
left join gain_budgets as gb on tr.account_id = gb.account_id
cross join run_context as ctx
order by tr.account_id
