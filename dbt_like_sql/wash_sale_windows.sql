-- Wash-sale windows per household and group of substantially identical securities,
-- active on the date (window_end = trade + 30 days, both ends inclusive):
-- * a sell in a taxable account whose gain is negative or unknown (sell_gains) blocks
--   buys of the group in every account of the household, IRAs and Roths included;
-- * a buy in any account of the household blocks loss sales of the group (in its
--   taxable accounts; losses inside IRAs and Roths have no tax effect and open nothing).
with trades as (
    select
        sg.transaction_id,
        sg.account_id,
        sg.security_id,
        sg.trade_date,
        'sell' as type,
        sg.realized_gain,
        sg.gain_source
    from sell_gains as sg
    union all
    select
        t.transaction_id,
        t.account_id,
        t.security_id,
        t.trade_date,
        t.type,
        cast(null as double) as realized_gain,
        cast(null as varchar) as gain_source
    from transactions as t
    where t.type = 'buy'
),

household_trades as (
    select
        trades.transaction_id,
        trades.account_id,
        trades.security_id,
        trades.trade_date,
        trades.type,
        trades.realized_gain,
        trades.gain_source,
        a.household_id,
        a.registration,
        coalesce(sec.identical_group, sec.security_id) as identical_group
    from trades
    join accounts as a on trades.account_id = a.account_id
    join securities as sec on trades.security_id = sec.security_id
    where trades.trade_date is not null
),

windows as (
    select
        ht.household_id,
        ht.identical_group,
        case ht.type when 'sell' then 'buy' else 'loss_sale' end as blocks,
        ht.trade_date as window_start,
        ht.trade_date + 30 as window_end,
        ht.account_id as source_account_id,
        ht.security_id as source_security_id,
        ht.transaction_id as source_transaction_id,
        ht.gain_source
    from household_trades as ht
    where
        ht.type = 'buy'
        or (
            ht.registration = 'taxable'
            and (ht.realized_gain < 0 or ht.gain_source = 'unknown')
        )
)

select
    w.household_id,
    w.identical_group,
    w.blocks,
    w.window_start,
    w.window_end,
    w.source_account_id,
    w.source_security_id,
    w.source_transaction_id,
    w.gain_source
from windows as w
join run_context as ctx on active_on(w.window_start, w.window_end, ctx.as_of)
order by
    w.household_id, w.identical_group, w.blocks, w.window_start,
    w.source_account_id, w.source_transaction_id
