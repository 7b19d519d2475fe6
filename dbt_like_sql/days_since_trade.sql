-- Days since the account last traded: the later of the custodian's last buy/sell on or
-- before the date and the firm's last released batch. Null when it never traded.
with custodian_trades as (
    select
        t.account_id,
        max(t.trade_date) as last_custodian_trade_date
    from transactions as t
    join run_context as ctx on t.trade_date <= ctx.as_of
    where t.type in ('buy', 'sell')
    group by t.account_id
),

last_trades as (
    select
        a.account_id,
        ct.last_custodian_trade_date,
        a.last_firm_trade_date,
        greatest(ct.last_custodian_trade_date, a.last_firm_trade_date) as last_trade_date
    from accounts as a
    left join custodian_trades as ct on a.account_id = ct.account_id
)

select
    lt.account_id,
    lt.last_custodian_trade_date,
    lt.last_firm_trade_date,
    lt.last_trade_date,
    date_diff('day', lt.last_trade_date, ctx.as_of) as days_since_last_trade
from last_trades as lt
cross join run_context as ctx
order by lt.account_id, lt.last_trade_date
